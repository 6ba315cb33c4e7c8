"""Save the fitted model as the run's ``model`` artifact, in a safe format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.tracking import Client

__all__ = ["log_fitted_model"]


def log_fitted_model(
    model: Any, input_example: Any, run_id: str, client: Client, onnx: bool = True
) -> dict[str, Any]:
    """Log ``model`` under ``model/`` with :func:`keel.registry.log_model` (skops for
    scikit-learn, native formats for XGBoost/LightGBM, a state dict for ``keel.torch``
    estimators; no pickle). Estimators that do not predict (PCA, DBSCAN) are not models
    the registry serves: they are stored in skops by ``keel.sklearn.log_model`` (load
    them with ``keel.sklearn.load_model``)."""
    context = client.context
    if getattr(model, "_keel_torch", False):
        from keel.torch import log_model as log_torch

        return log_torch(
            model,
            artifact_path="model",
            input_example=input_example,
            run_id=run_id,
            context=context,
        )
    if hasattr(model, "predict"):
        from keel.registry import log_model

        logged = log_model(
            model,
            artifact_path="model",
            input_example=input_example,
            onnx=onnx,
            run_id=run_id,
            context=context,
        )
        return dict(logged.descriptor or {"format": "keel"})
    from keel.sklearn import log_model as log_skops

    return log_skops(
        model, artifact_path="model", input_example=input_example, run_id=run_id, context=context
    )
