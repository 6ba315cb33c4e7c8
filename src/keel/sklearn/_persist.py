"""scikit-learn-API estimators as skops files: no pickle, exactly the recorded types trusted.

At save time the types skops does not trust by default are listed and recorded next to
the file; at load time exactly that list is trusted, so a file swapped for one that needs
other types is refused instead of executing unexpected code.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError, MissingExtraError

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["DESCRIPTOR", "dump_skops", "load_model", "load_skops", "log_model"]

#: name of the JSON file describing a logged model inside its artifact folder
DESCRIPTOR = "keel-model.json"


def _skops_io() -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - skops is a core dependency
        raise MissingExtraError.for_extra("skops", "sklearn") from exc
    return sio


def dump_skops(estimator: Any) -> tuple[bytes, list[str]]:
    """Serialise an estimator with skops.

    Returns:
        The bytes and the sorted list of types that must be trusted to load them.

    Raises:
        InvalidArgumentError: skops cannot serialise the object.
    """
    sio = _skops_io()
    try:
        data: bytes = sio.dumps(estimator)
    except Exception as exc:  # skops raises bare TypeErrors for unsupported objects
        raise InvalidArgumentError(
            f"cannot save {type(estimator).__name__} in skops format: {exc}; "
            "save it in a format of its own library instead"
        ) from exc
    trusted = sorted(sio.get_untrusted_types(data=data))
    return data, trusted


def load_skops(data: bytes, trusted: list[str]) -> Any:
    """Load skops bytes trusting exactly ``trusted``.

    Raises:
        InvalidArgumentError: the bytes need types beyond the recorded list.
    """
    sio = _skops_io()
    needed = set(sio.get_untrusted_types(data=data))
    extra = sorted(needed - set(trusted))
    if extra:
        raise InvalidArgumentError(
            f"the skops file needs types that were not recorded when it was saved: "
            f"{', '.join(extra)}; it may have been replaced — do not load it, log the model again"
        )
    return sio.loads(data, trusted=sorted(needed))


def input_example_payload(example: Any) -> Any:
    """A few rows as JSON-ready data: ``{"columns": [...], "data": [[...], ...]}``."""
    if example is None:
        return None
    try:
        import pandas as pd

        if isinstance(example, pd.DataFrame):
            return {
                "columns": [str(c) for c in example.columns],
                "data": json.loads(example.head(20).to_json(orient="values")),
            }
    except ImportError:  # pragma: no cover
        pass
    import numpy as np

    arr = np.asarray(example)
    return {"data": arr[:20].tolist()}


def log_model(
    estimator: Any,
    artifact_path: str = "model",
    input_example: Any = None,
    *,
    run_id: str | None = None,
    context: Context | None = None,
) -> dict[str, Any]:
    """Log a fitted scikit-learn-API estimator as ``<artifact_path>/model.skops``.

    Also writes ``<artifact_path>/keel-model.json`` (format, trusted types, class,
    library versions) and, when given, ``<artifact_path>/input_example.json``.

    Args:
        estimator: a fitted estimator (or Pipeline).
        artifact_path: folder inside the run's artifacts.
        input_example: a few rows (DataFrame or array) kept with the model.
        run_id: the run to log to; the active run by default.
        context: where the run is (:func:`keel.context.current_context` by default; the
            active run's own context when logging to it).

    Returns:
        The descriptor that was written.

    Example::

        >>> with keel.start_run(experiment="iris"):
        ...     keel.sklearn.log_model(RandomForestClassifier().fit(X, y), input_example=X[:5])
    """
    from importlib import metadata

    from keel.tracking import write_run_artifact, write_run_json

    run_id, ctx = run_and_context(run_id, context)
    data, trusted = dump_skops(estimator)
    versions = {}
    for pkg in ("scikit-learn", "skops", "keel"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    cls = type(estimator)
    descriptor: dict[str, Any] = {
        "format": "skops",
        "file": "model.skops",
        "trusted_types": trusted,
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
        "library_versions": versions,
    }
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        descriptor["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    base = artifact_path.rstrip("/")
    write_run_artifact(ctx, run_id, f"{base}/model.skops", data)
    example = input_example_payload(input_example)
    if example is not None:
        write_run_json(ctx, run_id, f"{base}/input_example.json", example)
        descriptor["input_example"] = "input_example.json"
    write_run_json(ctx, run_id, f"{base}/{DESCRIPTOR}", descriptor)
    return descriptor


def run_and_context(run_id: str | None, context: Context | None) -> tuple[str, Context]:
    """The run to log a model to (the active one when ``run_id`` is ``None``) and its context.

    Raises:
        InvalidArgumentError: no ``run_id`` and no active run.
    """
    from keel.context import current_context
    from keel.tracking import active_run

    if run_id is not None:
        return run_id, context or current_context()
    run = active_run()
    if run is None:
        raise InvalidArgumentError(
            "log_model needs a run: call it inside `with keel.start_run():` or pass run_id"
        )
    return run.id, context or run.client.context


def load_model(run_id: str, artifact_path: str = "model", *, context: Context | None = None) -> Any:
    """Load an estimator logged with :func:`log_model`, verifying sha256 and trusted types.

    Args:
        run_id: the run (its id or a unique id prefix).
        artifact_path: the folder the model was logged under.
        context: where the run is (:func:`keel.context.current_context` by default).

    Example::

        >>> model = keel.sklearn.load_model(run.id)
    """
    from keel.context import current_context
    from keel.tracking import read_run_artifact

    ctx = context or current_context()
    base = artifact_path.rstrip("/")
    descriptor = json.loads(read_run_artifact(ctx, run_id, f"{base}/{DESCRIPTOR}"))
    if descriptor.get("format") != "skops":
        raise InvalidArgumentError(
            f"model at {base!r} is in {descriptor.get('format')!r} format, not skops; "
            "load it with keel.models.load"
        )
    data = read_run_artifact(ctx, run_id, f"{base}/{descriptor['file']}")
    return load_skops(data, list(descriptor["trusted_types"]))
