"""Save and load ``keel.torch`` estimators as a state dict plus JSON (no pickle)."""

from __future__ import annotations

import io
import json
from typing import Any

from keel.errors import InvalidArgumentError

__all__ = ["load_model", "log_model"]

DESCRIPTOR = "keel-torch.json"


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
    estimator: Any, artifact_path: str = "model", *, run_id: str | None = None, client: Any = None
) -> dict[str, Any]:
    """Log a fitted ``TorchClassifier``/``TorchRegressor`` under ``artifact_path``.

    The built-in ``mlp`` module goes through ``keel.log_model`` (a torch state dict with
    its constructor arguments, loadable by the registry and serving); a custom module's
    state dict is written as ``model.pt``. ``keel-torch.json`` keeps what rebuilds the
    estimator (params, classes, input scaling, training history).

    Example::

        >>> with keel.start_run(experiment="digits"):
        ...     keel.torch.log_model(TorchClassifier().fit(X, y))
    """
    from sklearn.utils.validation import check_is_fitted

    import keel
    from keel.tracking import active_run, get_client

    check_is_fitted(estimator, "module_")
    client = client or get_client()
    if run_id is None:
        active = active_run()
        if active is None:
            raise InvalidArgumentError(
                "log_model needs a run: call it inside `with keel.start_run():` or pass run_id"
            )
        run_id = active.id
    base = artifact_path.strip("/")
    params = estimator.get_params(deep=False)
    params["module"] = _factory_path(params["module"])
    descriptor: dict[str, Any] = {
        "format": "keel_torch",
        "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "params": params,
        "init_kwargs": estimator.init_kwargs_,
        "classes": _plain(getattr(estimator, "classes_", None)),
        "feature_names": _plain(getattr(estimator, "feature_names_in_", None)),
        "input_mean": _plain(estimator.input_mean_),
        "input_scale": _plain(estimator.input_scale_),
        "best_epoch": estimator.best_epoch_,
        "history": estimator.history_,
    }
    if estimator.builtin_ and "log_model" in getattr(keel, "_EXPORTS", {}):
        keel.log_model(
            estimator.module_,
            artifact_path=base,
            init_kwargs=estimator.init_kwargs_,
            onnx=False,
            run_id=run_id,
            client=client,
        )
        descriptor["state_dict"] = "model.pt"
    else:
        import torch

        buf = io.BytesIO()
        torch.save(estimator.module_.state_dict(), buf)
        client.log_bytes(run_id, buf.getvalue(), f"{base}/model.pt")
        descriptor["state_dict"] = "model.pt"
    client.log_dict(run_id, descriptor, f"{base}/{DESCRIPTOR}")
    return descriptor


def load_model(run_id: str, artifact_path: str = "model", *, client: Any = None) -> Any:
    """Rebuild an estimator logged with :func:`log_model` (weights loaded with
    ``weights_only=True``; sha256 verified by the artifact store).

    Example::

        >>> clf = keel.torch.load_model(result.run_id)
    """
    import importlib

    import numpy as np

    import torch
    from keel.torch._estimator import resolve_factory
    from keel.tracking import get_client

    client = client or get_client()
    base = artifact_path.strip("/")
    descriptor = json.loads(client.load_artifact_bytes(run_id, f"{base}/{DESCRIPTOR}"))
    module_name, _, cls_name = descriptor["estimator_class"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), cls_name)
    estimator = cls(**descriptor["params"])
    net = resolve_factory(descriptor["params"]["module"])(**descriptor["init_kwargs"])
    state = torch.load(
        io.BytesIO(client.load_artifact_bytes(run_id, f"{base}/{descriptor['state_dict']}")),
        weights_only=True,
    )
    net.load_state_dict(state)
    net.eval()
    estimator.module_ = net
    estimator.init_kwargs_ = descriptor["init_kwargs"]
    estimator.builtin_ = descriptor["params"]["module"] == "mlp"
    estimator.n_features_in_ = descriptor["init_kwargs"]["n_features"]
    if descriptor["classes"] is not None:
        estimator.classes_ = np.asarray(descriptor["classes"])
    mean, scale = descriptor["input_mean"], descriptor["input_scale"]
    estimator.input_mean_ = None if mean is None else np.asarray(mean, dtype=np.float32)
    estimator.input_scale_ = None if scale is None else np.asarray(scale, dtype=np.float32)
    estimator.history_ = descriptor["history"]
    estimator.best_epoch_ = descriptor["best_epoch"]
    return estimator
