"""Evaluation metrics by task, declared as data so names are checked in one place."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from keel.training._errors import TrainingInputError

__all__ = [
    "METRICS",
    "MetricSpec",
    "check_metrics",
    "classification_metrics",
    "clustering_metrics",
    "default_metric",
    "regression_metrics",
]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its task, whether bigger is better, and what it needs."""

    name: str
    task: str
    greater_is_better: bool
    needs_proba: bool = False


def _spec(names: str, task: str, greater: bool, proba: bool = False) -> list[MetricSpec]:
    return [MetricSpec(n, task, greater, proba) for n in names.split()]


METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in [
        *_spec(
            "accuracy balanced_accuracy precision_macro recall_macro f1_macro "
            "precision_weighted recall_weighted f1_weighted",
            "classification",
            True,
        ),
        *_spec("roc_auc", "classification", True, proba=True),
        *_spec("log_loss", "classification", False, proba=True),
        *_spec("mse rmse mae mape", "regression", False),
        *_spec("r2", "regression", True),
        *_spec("silhouette calinski_harabasz adjusted_rand", "clustering", True),
        *_spec("davies_bouldin", "clustering", False),
    ]
}

_DEFAULT = {"classification": "accuracy", "regression": "rmse", "clustering": "silhouette"}


def default_metric(task: str) -> str:
    """The metric CV and search optimise when none is named."""
    return _DEFAULT.get(task, "silhouette")


def check_metrics(names: Sequence[str], task: str, what: str = "metric") -> list[str]:
    """Check metric names against the task; return them.

    Raises:
        TrainingInputError: a name is unknown or belongs to another task.
    """
    import difflib

    for name in names:
        spec = METRICS.get(name)
        allowed = sorted(n for n, s in METRICS.items() if s.task == task)
        if spec is None:
            near = difflib.get_close_matches(name, list(METRICS), n=2, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
            raise TrainingInputError(
                f"{what} {name!r} is unknown{hint}; {task} metrics are: {', '.join(allowed)}"
            )
        if spec.task != task:
            raise TrainingInputError(
                f"{what} {name!r} is a {spec.task} metric but the task is {task}; "
                f"use one of: {', '.join(allowed)}"
            )
    return list(names)


def _safe(fn: Callable[[], float]) -> float | None:
    try:
        with warnings.catch_warnings():
            # Undefined precision for a class never predicted is reported as 0, as sklearn does.
            from sklearn.exceptions import UndefinedMetricWarning

            warnings.simplefilter("ignore", UndefinedMetricWarning)
            value = float(fn())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def classification_metrics(
    names: Sequence[str], y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None
) -> dict[str, float]:
    """Classification metrics; probability metrics only when ``proba`` is given.

    ROC-AUC is one-vs-rest (macro) for more than two classes.
    """
    import numpy as np

    from sklearn import metrics as m

    out: dict[str, float | None] = {}
    labels = list(classes) if classes is not None else None
    for name in names:
        if name == "accuracy":
            out[name] = _safe(lambda: m.accuracy_score(y_true, y_pred))
        elif name == "balanced_accuracy":
            out[name] = _safe(lambda: m.balanced_accuracy_score(y_true, y_pred))
        elif name.split("_")[0] in ("precision", "recall", "f1"):
            kind, avg = name.split("_")
            fn = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}[kind]
            out[name] = _safe(partial(fn, y_true, y_pred, average=avg, zero_division=0))
        elif name in ("roc_auc", "log_loss") and proba is not None:
            if name == "log_loss":
                clipped = np.clip(proba, 1e-15, 1 - 1e-15)
                out[name] = _safe(partial(m.log_loss, y_true, clipped, labels=labels))
            elif proba.shape[1] == 2:
                out[name] = _safe(lambda: m.roc_auc_score(y_true, proba[:, 1]))
            elif len(np.unique(y_true)) == proba.shape[1]:
                out[name] = _safe(
                    lambda: m.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
                )
    return {k: v for k, v in out.items() if v is not None}


def regression_metrics(names: Sequence[str], y_true: Any, y_pred: Any) -> dict[str, float]:
    """Regression metrics (MAPE as a fraction, as scikit-learn computes it)."""
    from sklearn import metrics as m

    out: dict[str, float | None] = {}
    for name in names:
        if name == "mse":
            out[name] = _safe(lambda: m.mean_squared_error(y_true, y_pred))
        elif name == "rmse":
            out[name] = _safe(lambda: math.sqrt(m.mean_squared_error(y_true, y_pred)))
        elif name == "mae":
            out[name] = _safe(lambda: m.mean_absolute_error(y_true, y_pred))
        elif name == "r2":
            out[name] = _safe(lambda: m.r2_score(y_true, y_pred))
        elif name == "mape":
            out[name] = _safe(lambda: m.mean_absolute_percentage_error(y_true, y_pred))
    return {k: v for k, v in out.items() if v is not None}


def clustering_metrics(
    names: Sequence[str], X: Any, labels: Any, y_true: Any = None, sample_size: int = 5000
) -> dict[str, float]:
    """Clustering metrics; noise points (label -1) are left out of the internal ones.

    Metrics that need two or more clusters are omitted when there are fewer.
    """
    import numpy as np

    from sklearn import metrics as m

    labels = np.asarray(labels)
    keep = labels != -1
    n_clusters = len(np.unique(labels[keep]))
    out: dict[str, float | None] = {}
    Xk, lk = X[keep], labels[keep]
    size = min(sample_size, len(lk))
    for name in names:
        if name == "adjusted_rand":
            if y_true is not None:
                out[name] = _safe(lambda: m.adjusted_rand_score(y_true, labels))
            continue
        if n_clusters < 2 or n_clusters >= int(keep.sum()):
            continue
        if name == "silhouette":
            out[name] = _safe(lambda: m.silhouette_score(Xk, lk, sample_size=size, random_state=0))
        elif name == "davies_bouldin":
            out[name] = _safe(lambda: m.davies_bouldin_score(Xk, lk))
        elif name == "calinski_harabasz":
            out[name] = _safe(lambda: m.calinski_harabasz_score(Xk, lk))
    return {k: v for k, v in out.items() if v is not None}
