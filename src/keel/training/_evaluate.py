"""Predictions and metrics of a fitted model on one split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keel.training._metrics import (
    METRICS,
    classification_metrics,
    clustering_metrics,
    regression_metrics,
)

__all__ = ["cluster_labels", "cluster_space", "predict_outputs", "split_metrics"]


def predict_outputs(model: Any, X: Any, task: str, need_proba: bool = True) -> tuple[Any, Any]:
    """``(predictions, probabilities or None)`` of a fitted supervised model."""
    pred = model.predict(X)
    proba = None
    if task == "classification" and need_proba and hasattr(model, "predict_proba"):
        try:
            proba = model.predict_proba(X)
        except (AttributeError, NotImplementedError, ValueError):
            proba = None
    return pred, proba


def cluster_space(model: Any, X: Any) -> Any:
    """The numeric space clusters live in: the output of a Pipeline's steps before the
    clusterer, or X itself."""
    import numpy as np

    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        out = X
        for _, step in steps[:-1]:
            if step is None or step == "passthrough":
                continue
            out = step.transform(out)
        return np.asarray(out, dtype=float)
    return np.asarray(X, dtype=float)


def cluster_labels(model: Any, X: Any) -> Any:
    """The cluster label of each training row of a fitted clusterer."""
    import numpy as np

    last = model.steps[-1][1] if isinstance(getattr(model, "steps", None), list) else model
    labels = getattr(last, "labels_", None)
    if labels is None:
        labels = model.predict(X)
    return np.asarray(labels)


def split_metrics(
    task: str,
    names: Sequence[str],
    model: Any,
    X: Any,
    y: Any,
    classes: Any = None,
) -> tuple[dict[str, float], Any, Any]:
    """Metrics of a fitted model on (X, y), with its predictions and probabilities."""
    if task == "classification":
        need_proba = any(METRICS[n].needs_proba for n in names)
        pred, proba = predict_outputs(model, X, task, need_proba)
        return classification_metrics(names, y, pred, proba, classes), pred, proba
    if task == "regression":
        pred, _ = predict_outputs(model, X, task)
        return regression_metrics(names, y, pred), pred, None
    labels = model.predict(X) if hasattr(model, "predict") else cluster_labels(model, X)
    return clustering_metrics(names, cluster_space(model, X), labels, y), labels, None
