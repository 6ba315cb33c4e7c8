"""Save and load ``keel.torch`` estimators as a state dict plus JSON (no pickle)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["load_model", "log_model"]

#: the descriptor the registry reads (the same name as every logged model's)
DESCRIPTOR = "keel-model.json"
FORMAT = "keel_torch"


def _factory_path(module: Any) -> str:
    if isinstance(module, str):
        return module
    return f"{module.__module__}:{module.__qualname__}"


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def log_model(
    estimator: Any,
    artifact_path: str = "model",
    input_example: Any = None,
    *,
    run_id: str | None = None,
    context: Context | None = None,
) -> dict[str, Any]:
    """Log a fitted ``TorchClassifier``/``TorchRegressor`` under ``artifact_path``.

    Writes the network's state dict as ``model.pt`` (loaded later with
    ``weights_only=True``: no pickle) and ``keel-model.json`` with what rebuilds the whole
    estimator: params, the module factory's import path and arguments, classes, input
    scaling and training history. ``keel.models.register`` registers it as format
    ``keel_torch``, and ``keel.models.load`` returns the estimator, scaling included.

    Example::

        >>> with keel.start_run(experiment="digits"):
        ...     keel.torch.log_model(TorchClassifier().fit(X, y), input_example=X[:5])
    """
    import torch
    from sklearn.utils.validation import check_is_fitted

    from keel.sklearn import input_example_payload
    from keel.sklearn._persist import run_and_context
    from keel.tracking import write_run_artifact, write_run_json

    check_is_fitted(estimator, "module_")
    run_id, ctx = run_and_context(run_id, context)
    base = artifact_path.strip("/")
    params = estimator.get_params(deep=False)
    params["module"] = _factory_path(params["module"])
    classes = _plain(getattr(estimator, "classes_", None))
    descriptor: dict[str, Any] = {
        "format": FORMAT,
        "flavor": "torch",
        "file": "model.pt",
        "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "params": params,
        "init_kwargs": estimator.init_kwargs_,
        "classes": classes,
        "feature_names": _plain(getattr(estimator, "feature_names_in_", None)),
        "input_mean": _plain(estimator.input_mean_),
        "input_scale": _plain(estimator.input_scale_),
        "best_epoch": estimator.best_epoch_,
        "history": estimator.history_,
        "library_versions": {"torch": torch.__version__},
    }
    buf = io.BytesIO()
    torch.save(estimator.module_.state_dict(), buf)
    write_run_artifact(ctx, run_id, f"{base}/model.pt", buf.getvalue())
    example = input_example_payload(input_example)
    if example is not None:
        write_run_json(ctx, run_id, f"{base}/input_example.json", example)
        descriptor["input_example"] = "input_example.json"
    write_run_json(ctx, run_id, f"{base}/{DESCRIPTOR}", descriptor)
    return descriptor


def estimator_from_state(descriptor: dict[str, Any], state: bytes) -> Any:
    """Rebuild a fitted estimator from its descriptor and verified state-dict bytes.

    The registry calls this for format ``keel_torch``; the weights are read with
    ``torch.load(..., weights_only=True)``, which refuses anything but tensors.
    """
    import importlib

    import numpy as np
    import torch

    from keel.torch._estimator import resolve_factory

    if descriptor.get("format") != FORMAT:
        raise InvalidArgumentError(
            f"not a keel.torch model (format {descriptor.get('format')!r}); "
            "load it with keel.models.load"
        )
    module_name, _, cls_name = descriptor["estimator_class"].rpartition(".")
    if not module_name.startswith("keel.torch"):
        raise InvalidArgumentError(
            f"keel.torch descriptor names {descriptor['estimator_class']!r}, not a keel.torch "
            "estimator; the file may have been edited — log the model again"
        )
    cls = getattr(importlib.import_module(module_name), cls_name)
    estimator = cls(**descriptor["params"])
    net = resolve_factory(descriptor["params"]["module"])(**descriptor["init_kwargs"])
    net.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
    net.eval()
    estimator.module_ = net
    estimator.init_kwargs_ = descriptor["init_kwargs"]
    estimator.builtin_ = descriptor["params"]["module"] == "mlp"
    estimator.n_features_in_ = descriptor["init_kwargs"]["n_features"]
    if descriptor.get("feature_names") is not None:
        estimator.feature_names_in_ = np.asarray(descriptor["feature_names"], dtype=object)
    if descriptor["classes"] is not None:
        estimator.classes_ = np.asarray(descriptor["classes"])
    mean, scale = descriptor["input_mean"], descriptor["input_scale"]
    estimator.input_mean_ = None if mean is None else np.asarray(mean, dtype=np.float32)
    estimator.input_scale_ = None if scale is None else np.asarray(scale, dtype=np.float32)
    estimator.history_ = descriptor["history"]
    estimator.best_epoch_ = descriptor["best_epoch"]
    return estimator


def load_model(run_id: str, artifact_path: str = "model", *, context: Context | None = None) -> Any:
    """Rebuild an estimator logged with :func:`log_model` (sha256 verified by the
    artifact store; weights loaded with ``weights_only=True``).

    Args:
        run_id: the run (its id or a unique id prefix).
        artifact_path: the folder the model was logged under.
        context: where the run is (:func:`keel.context.current_context` by default).

    Example::

        >>> clf = keel.torch.load_model(result.run_id)
    """
    from keel.context import current_context
    from keel.tracking import read_run_artifact

    ctx = context or current_context()
    base = artifact_path.strip("/")
    descriptor = json.loads(read_run_artifact(ctx, run_id, f"{base}/{DESCRIPTOR}"))
    state = read_run_artifact(ctx, run_id, f"{base}/{descriptor['file']}")
    return estimator_from_state(descriptor, state)
