"""A model version made ready to serve: verified files, a runtime, an input schema, a
batcher, and (on first use) its SHAP explainer.

Models load through the registry: the version must not be archived, its row must match
its audit events, and every file must match its sha256 before anything is
deserialised. ONNX runs when the version has a parity-checked ONNX file and numeric
inputs; the native model is then only deserialised if an explanation is asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError
from keel.serving._batcher import MicroBatcher
from keel.serving._inputs import InputBatch, InputSchema
from keel.serving._runtime import ModelRuntime, native_runtime, onnx_runtime
from keel.serving._spec import EndpointSpec

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["ServedModel", "load_served_model"]

_ONNX_FLAVORS = ("sklearn", "xgboost", "lightgbm")


@dataclass(eq=False)
class ServedModel:
    """One model version as a target serves it.

    Attributes:
        ref: the reference the spec names (``iris@champion``).
        version: the :class:`~keel.store.ModelVersion` it resolved to.
        runtime: what predicts.
        schema: the input checks.
        context: where the version's files and run artifacts are read from.
        batching: the endpoint's batching settings.
        batcher: the micro-batcher (created by :meth:`start`).
        load_seconds: how long loading and warming took.
    """

    ref: str
    version: Any
    runtime: ModelRuntime
    schema: InputSchema
    context: Context
    batching: Any
    load_seconds: float = 0.0
    batcher: MicroBatcher | None = None
    _explainer: Any = None
    _native: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def uri(self) -> str:
        """``name/version`` of the served version."""
        return str(self.version.uri)

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return "classification" if self.runtime.classes is not None else "regression"

    def start(self, endpoint: str, observer: Any = None) -> MicroBatcher:
        """Create and start the batcher (inside the event loop)."""
        batching = self.batching
        self.batcher = MicroBatcher(
            self.predict,
            enabled=batching.enabled and self.runtime.can_batch,
            max_batch_rows=batching.max_batch_rows,
            max_wait_s=batching.max_wait_ms / 1000.0,
            max_queue_rows=batching.max_queue_rows,
            observer=observer,
            name=f"{endpoint}-{self.version.name}-{self.version.version}",
        )
        self.batcher.start()
        return self.batcher

    def predict(self, batch: InputBatch, proba: bool = False) -> Any:
        """Run the runtime (the batcher calls this in the model's thread)."""
        return self.runtime.predict(batch, proba)

    def native_model(self) -> Any:
        """The deserialised model (loaded through the registry on first use)."""
        with self._lock:
            if self._native is None:
                runtime_model = getattr(self.runtime, "model", None)
                if runtime_model is not None:
                    self._native = runtime_model
                else:
                    from keel.registry import load_version

                    self._native = load_version(self.version, context=self.context)
            return self._native

    def explainer(self) -> Any:
        """The SHAP explainer of this version (built on first use; see ``_explain``)."""
        with self._lock:
            explainer = self._explainer
        if explainer is None:
            from keel.serving._explain import build_model_explainer

            explainer = build_model_explainer(self)
            with self._lock:
                self._explainer = explainer
        return explainer


def _example_batch(schema: InputSchema, example: Any) -> InputBatch | None:
    import numpy as np

    if example is None:
        if schema.numeric:
            return InputBatch(1, matrix=np.zeros((1, len(schema.names))))
        return None
    try:
        columns = getattr(example, "columns", None)
        if columns is not None:
            frame = example[list(schema.names)].head(8)
            if schema.numeric:
                return InputBatch(len(frame), matrix=frame.to_numpy(dtype=np.float64))
            return InputBatch(len(frame), columns={n: frame[n].tolist() for n in schema.names})
        arr = np.asarray(example, dtype=np.float64)[:8]
        return InputBatch(len(arr), matrix=arr.reshape(len(arr), -1))
    except Exception:
        return None


def load_served_model(
    ref: str,
    spec: EndpointSpec,
    *,
    context: Context,
    runtime: str = "auto",
    version: Any = None,
) -> ServedModel:
    """Resolve ``ref``, verify and load the version, and warm it up.

    Args:
        ref: ``iris@champion``, ``iris/4``.
        spec: the endpoint (limits, batching, missing values).
        context: the store and artifact store that hold the model.
        runtime: ``auto`` (ONNX when possible), ``onnx`` or ``native``.
        version: the already resolved version (the alias watcher passes it).

    Raises:
        NotFoundError: the model, version or alias does not exist.
        ModelStateError: the version is archived.
        AuditMismatchError: the version's row was changed behind keel's back.
        ArtifactCorruptedError: a file does not match its sha256.
        UnsafeFormatError: the model is a pickle (serving never loads pickles).
    """
    import time

    from keel.registry import get_version, load_input_example, read_checked_files

    started = time.perf_counter()
    if version is None:
        version = get_version(ref, context=context)
    signature = dict(version.signature or {})
    schema = InputSchema(
        signature, max_rows=spec.limits.max_rows, missing_allowed=spec.missing_allowed
    )
    if not schema.names:
        raise InvalidArgumentError(
            f"model {version.uri} has no input signature, so requests cannot be checked; "
            "log it again with input_example=... (keel.log_model)"
        )
    files = read_checked_files(version, context=context)
    onnx_file = version.file("onnx")
    use_onnx = (
        runtime != "native"
        and onnx_file is not None
        and version.flavor in _ONNX_FLAVORS
        and schema.numeric
        and not any(schema.nullable)
    )
    if runtime == "onnx" and not use_onnx:
        raise InvalidArgumentError(
            f"model {version.uri} cannot run on ONNX Runtime: "
            + (
                "it has no parity-checked ONNX file"
                if onnx_file is None
                else "its inputs are not all numeric, or missing values are allowed"
            )
        )
    model_runtime: ModelRuntime
    if use_onnx:
        assert onnx_file is not None
        model_runtime = onnx_runtime(files[onnx_file.path], signature, schema.names, schema.types)
    else:
        from keel.registry import load_version

        model = load_version(version, context=context)
        model_runtime = native_runtime(model, signature, schema.names, schema.types, schema.numeric)
    served = ServedModel(ref, version, model_runtime, schema, context, spec.batching)
    example = _example_batch(schema, load_input_example(version, context=context))
    if example is not None:
        for _ in range(3):  # the first calls allocate; the warm ones are what callers see
            model_runtime.predict(example, proba=model_runtime.has_proba)
    served.load_seconds = time.perf_counter() - started
    return served


#: builds a served model (the app takes another for tests and embedding)
ModelLoader = Callable[..., ServedModel]
