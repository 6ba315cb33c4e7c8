"""What kind of model was given: its task, its final step, its preprocessing."""

from __future__ import annotations

from typing import Any

from keel.training._errors import TrainingInputError

__all__ = [
    "TASKS",
    "class_path",
    "final_estimator",
    "handles_categoricals",
    "has_preprocessing",
    "infer_task",
    "pca_steps",
    "set_n_jobs_default",
]

TASKS = ("classification", "regression", "clustering", "decomposition")


def class_path(obj: Any) -> str:
    """``module.QualName`` of an object's class (or of a class)."""
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def final_estimator(model: Any) -> Any:
    """The last step of a Pipeline (recursively), or the model itself."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        return final_estimator(steps[-1][1])
    return model


def _walk(model: Any) -> list[Any]:
    """Every estimator inside a Pipeline / ColumnTransformer / FeatureUnion, the model first."""
    found = [model]
    for attr in ("steps", "transformers", "transformer_list"):
        parts = getattr(model, attr, None)
        if isinstance(parts, list):
            for part in parts:
                if isinstance(part, tuple) and len(part) >= 2 and not isinstance(part[1], str):
                    found.extend(_walk(part[1]))
    return found


def has_preprocessing(model: Any) -> bool:
    """Whether the model transforms its input before the final estimator (a Pipeline or
    ColumnTransformer), so non-numeric columns may be fine."""
    return any(hasattr(m, "transformers") for m in _walk(model)) or (
        isinstance(getattr(model, "steps", None), list) and len(model.steps) > 1
    )


def handles_categoricals(model: Any) -> bool:
    """Whether the final estimator accepts pandas ``category`` columns natively."""
    name = type(final_estimator(model)).__name__
    return name.startswith(("LGBM", "HistGradientBoosting", "CatBoost"))


def pca_steps(model: Any) -> list[Any]:
    """The fitted steps with ``explained_variance_ratio_`` (PCA and friends)."""
    return [m for m in _walk(model) if hasattr(m, "explained_variance_ratio_")]


def infer_task(model: Any, task: str, has_target: bool) -> str:
    """Resolve ``task="auto"`` from the estimator type; check an explicit one.

    Raises:
        TrainingInputError: the task is unknown or cannot be inferred.
    """
    if task not in ("auto", *TASKS):
        raise TrainingInputError(f"task {task!r} is unknown; use one of: auto, {', '.join(TASKS)}")
    if task != "auto":
        return task
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return "classification"
    if is_regressor(model):
        return "regression"
    last = final_estimator(model)
    if hasattr(last, "fit_predict") or hasattr(last, "n_clusters"):
        return "clustering"
    if hasattr(last, "n_components") and hasattr(last, "transform"):
        return "decomposition"
    raise TrainingInputError(
        f"cannot tell the task of {class_path(last)}: it is neither a classifier, a regressor, "
        "a clusterer nor a decomposition; pass task='classification'|'regression'|'clustering'"
        + (" (a target was given)" if has_target else "")
    )


def set_n_jobs_default(model: Any, n_jobs: int | None) -> None:
    """Give estimators that left ``n_jobs`` unset the session default (in place).

    Estimators whose ``n_jobs`` is already set are left alone.
    """
    if n_jobs is None:
        return
    try:
        params = model.get_params(deep=True)
    except Exception:
        return
    updates = {k: n_jobs for k, v in params.items() if k.split("__")[-1] == "n_jobs" and v is None}
    if updates:
        model.set_params(**updates)
