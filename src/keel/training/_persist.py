"""Save the fitted model as the run's ``model`` artifact, in a safe format."""

from __future__ import annotations

from typing import Any

__all__ = ["log_fitted_model"]


def log_fitted_model(
    model: Any, input_example: Any, run_id: str, client: Any, onnx: bool = True
) -> dict[str, Any]:
    """Log ``model`` under ``model/`` with ``keel.log_model`` (skops for scikit-learn,
    native formats for XGBoost/LightGBM, a state dict for ``keel.torch`` estimators; no
    pickle). Estimators that do not predict (PCA, DBSCAN) are not models the registry
    serves: they, and every model where the registry is absent, are stored in skops by
    ``keel.sklearn.log_model`` (load them with ``keel.sklearn.load_model``)."""
    import keel

    if getattr(model, "_keel_torch", False):
        from keel.torch import log_model as log_torch

        return log_torch(
            model, artifact_path="model", input_example=input_example, run_id=run_id, client=client
        )
    if hasattr(model, "predict") and "log_model" in getattr(keel, "_EXPORTS", {}):
        logged = keel.log_model(
            model,
            artifact_path="model",
            input_example=input_example,
            onnx=onnx,
            run_id=run_id,
            client=client,
        )
        return dict(getattr(logged, "descriptor", {}) or {"format": "keel"})
    from keel.sklearn import log_model

    return log_model(
        model, artifact_path="model", input_example=input_example, run_id=run_id, client=client
    )
