"""What runs a model: ONNX Runtime when the version has a parity-checked ONNX file,
otherwise the model's own library.

ONNX Runtime is set up for serving, not for one big call: one intra-op and one
inter-op thread and no spinning. A single row of a 100-tree forest takes tens of
microseconds; a thread pool's hand-off and its spin-waiting cost more than that and
steal the core the event loop needs (decision 304). Throughput comes from micro-batching
and from uvicorn workers, one per core.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.serving._inputs import InputBatch

__all__ = ["ModelRuntime", "Prediction", "native_runtime", "onnx_runtime"]

_FRAME_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "object",
    "category": "category",
}


@dataclass(slots=True)
class Prediction:
    """Outputs for a batch: labels (or values), and class probabilities when asked for."""

    labels: Any
    proba: Any = None

    def rows(self, start: int, stop: int) -> Prediction:
        """The outputs of rows ``start:stop``."""
        return Prediction(
            self.labels[start:stop], None if self.proba is None else self.proba[start:stop]
        )


class ModelRuntime:
    """Runs one loaded model on an :class:`InputBatch`.

    Attributes:
        kind: ``onnx`` or ``native``.
        can_batch: whether rows of several requests may be stacked into one call.
        classes: the class labels of a classifier, else ``None``.
    """

    kind = "native"

    def __init__(
        self, names: Sequence[str], types: Sequence[str], classes: list[Any] | None
    ) -> None:
        self.names = list(names)
        self.types = list(types)
        self.classes = classes
        self.can_batch = True

    @property
    def has_proba(self) -> bool:
        """Whether the runtime gives class probabilities."""
        return False

    def predict(self, batch: InputBatch, proba: bool = False) -> Prediction:
        """Predict every row of ``batch`` (probabilities too when ``proba``)."""
        raise NotImplementedError

    def frame(self, batch: InputBatch) -> Any:
        """The batch as a DataFrame with the signature's dtypes (for models that need one)."""
        import pandas as pd

        if batch.matrix is not None:
            frame = pd.DataFrame(batch.matrix, columns=self.names)
        else:
            assert batch.columns is not None
            frame = pd.DataFrame({n: batch.columns[n] for n in self.names})
        for name, kind in zip(self.names, self.types, strict=True):
            if kind == "datetime":
                frame[name] = pd.to_datetime(frame[name])
            elif kind in _FRAME_DTYPES and not (
                kind in ("long", "integer", "boolean") and frame[name].isna().any()
            ):
                frame[name] = frame[name].astype(_FRAME_DTYPES[kind])  # type: ignore[call-overload]
        return frame


class _OnnxRuntime(ModelRuntime):
    kind = "onnx"

    def __init__(
        self, session: Any, names: Sequence[str], types: Sequence[str], classes: list[Any] | None
    ) -> None:
        super().__init__(names, types, classes)
        self.session = session
        first = session.get_inputs()[0]
        self.input_name = first.name
        batch_dim = first.shape[0] if first.shape else None
        self.can_batch = not (isinstance(batch_dim, int) and batch_dim == 1)
        self._classifier = classes is not None and len(session.get_outputs()) >= 2

    @property
    def has_proba(self) -> bool:
        return self._classifier

    def predict(self, batch: InputBatch, proba: bool = False) -> Prediction:
        import numpy as np

        assert batch.matrix is not None
        x = batch.matrix.astype(np.float32)
        outputs = self.session.run(None, {self.input_name: x})
        if self._classifier:
            return Prediction(np.asarray(outputs[0]).reshape(batch.rows), np.asarray(outputs[1]))
        return Prediction(np.asarray(outputs[0], dtype=np.float64).reshape(batch.rows))


class _NativeRuntime(ModelRuntime):
    def __init__(
        self,
        model: Any,
        names: Sequence[str],
        types: Sequence[str],
        classes: list[Any] | None,
        numeric: bool,
    ) -> None:
        super().__init__(names, types, classes)
        self.model = model
        self._torch = not hasattr(model, "predict") and callable(model)
        self._needs_frame = not self._torch and (not numeric or _needs_frame(model))
        self._fast = model if self._needs_frame or self._torch else _without_feature_names(model)
        self._proba = classes is not None and hasattr(model, "predict_proba")

    @property
    def has_proba(self) -> bool:
        return self._proba

    def predict(self, batch: InputBatch, proba: bool = False) -> Prediction:
        import numpy as np

        if self._torch:
            import torch

            assert batch.matrix is not None
            with torch.no_grad():
                out = self.model(torch.from_numpy(batch.matrix.astype(np.float32)))
            values = np.asarray(out.detach().numpy(), dtype=np.float64)
            return Prediction(
                values.reshape(batch.rows, -1)[:, 0]
                if values.ndim > 1 and values.shape[1] == 1
                else values
            )
        X = self.frame(batch) if self._needs_frame else batch.matrix
        labels = np.asarray(self._fast.predict(X))
        probabilities = np.asarray(self._fast.predict_proba(X)) if proba and self._proba else None
        if labels.ndim > 1 and labels.shape[1] == 1:
            labels = labels.reshape(-1)
        return Prediction(labels, probabilities)


def _needs_frame(model: Any) -> bool:
    """Pipelines and column transformers select columns by name: they need a DataFrame."""
    name = type(model).__name__
    if name in ("Pipeline", "ColumnTransformer") or hasattr(model, "steps"):
        return True
    module = type(model).__module__.split(".", 1)[0]
    return module not in ("sklearn", "keel", "lightgbm")


def _without_feature_names(model: Any) -> Any:
    """A shallow copy without ``feature_names_in_``, so it takes a plain array in
    signature order without warning (the names were checked against the signature
    before the array was built)."""
    if not hasattr(model, "feature_names_in_"):
        return model
    twin = copy.copy(model)
    try:
        del twin.feature_names_in_
    except AttributeError:
        return model
    return twin


def _serving_threads(model: Any) -> None:
    """One thread per prediction: joblib/OpenMP pools cost more than one row's work."""
    params = getattr(model, "get_params", None)
    if params is None:
        return
    try:
        if "n_jobs" in params(deep=False):
            model.set_params(n_jobs=1)
    except Exception:
        pass


def onnx_runtime(
    data: bytes, signature: Mapping[str, Any], names: Sequence[str], types: Sequence[str]
) -> ModelRuntime:
    """A runtime on ONNX bytes (already verified against their sha256)."""
    import onnxruntime as ort  # type: ignore[import-untyped,import-not-found,unused-ignore]

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    return _OnnxRuntime(session, names, types, _classes(signature))


def native_runtime(
    model: Any,
    signature: Mapping[str, Any],
    names: Sequence[str],
    types: Sequence[str],
    numeric: bool,
) -> ModelRuntime:
    """A runtime on a deserialised model."""
    _serving_threads(model)
    return _NativeRuntime(model, names, types, _classes(signature), numeric)


def _classes(signature: Mapping[str, Any]) -> list[Any] | None:
    outputs = signature.get("outputs") or {}
    if outputs.get("type") == "label" and outputs.get("classes") is not None:
        return list(outputs["classes"])
    return None
