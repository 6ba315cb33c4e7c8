"""Evaluation plots as matplotlib Figures (no pyplot state, so any backend works)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

__all__ = [
    "bar_figure",
    "calibration_figure",
    "confusion_matrix_figure",
    "curve_figure",
    "explained_variance_figure",
    "history_figure",
    "pr_figure",
    "residuals_figure",
    "roc_figure",
    "scatter_figure",
]


def _figure(width: float = 5.5, height: float = 4.5) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot(1, 1, 1)


def confusion_matrix_figure(y_true: Any, y_pred: Any, labels: Sequence[Any]) -> Any:
    """Counts of true (rows) by predicted (columns) class, annotated."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=list(labels))
    size = max(4.0, 0.5 * len(labels) + 3)
    fig, ax = _figure(size, size * 0.85)
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ticks = range(len(labels))
    ax.set_xticks(list(ticks), [str(c) for c in labels], rotation=45, ha="right")
    ax.set_yticks(list(ticks), [str(c) for c in labels])
    threshold = cm.max() / 2 if cm.size else 0
    if len(labels) <= 20:
        for i in ticks:
            for j in ticks:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    color="white" if cm[i, j] > threshold else "black",
                    fontsize=8,
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    return fig


def _one_vs_rest(y_true: Any, proba: Any, classes: Sequence[Any]) -> list[tuple[str, Any, Any]]:
    import numpy as np

    y = np.asarray(y_true)
    if proba.shape[1] == 2:
        series = [(str(classes[1]), (y == classes[1]).astype(int), proba[:, 1])]
    else:
        series = [(str(c), (y == c).astype(int), proba[:, i]) for i, c in enumerate(classes)]
    # A class absent from (or filling) the evaluated rows has no curve to draw.
    return [(name, yt, score) for name, yt, score in series if yt.min() != yt.max()]


def roc_figure(y_true: Any, proba: Any, classes: Sequence[Any]) -> Any:
    """ROC curve (one-vs-rest per class for multiclass) with AUC in the legend."""
    from sklearn.metrics import auc, roc_curve

    fig, ax = _figure()
    for name, yt, score in _one_vs_rest(y_true, proba, classes):
        fpr, tpr, _ = roc_curve(yt, score)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def pr_figure(y_true: Any, proba: Any, classes: Sequence[Any]) -> Any:
    """Precision-recall curve per class with average precision in the legend."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _figure()
    for name, yt, score in _one_vs_rest(y_true, proba, classes):
        precision, recall, _ = precision_recall_curve(yt, score)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(yt, score):.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall curve")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def calibration_figure(y_true: Any, proba: Any, classes: Sequence[Any]) -> Any:
    """Reliability diagram: mean predicted probability against the observed frequency."""
    from sklearn.calibration import calibration_curve

    fig, ax = _figure()
    for name, yt, score in _one_vs_rest(y_true, proba, classes):
        frac, mean_pred = calibration_curve(yt, score, n_bins=10, strategy="quantile")
        ax.plot(mean_pred, frac, marker="o", markersize=3, label=name)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfectly calibrated")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("fraction of positives")
    ax.set_title("Calibration")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def residuals_figure(y_true: Any, y_pred: Any) -> Any:
    """Residuals against predictions, and predicted against true."""
    import numpy as np
    from matplotlib.figure import Figure

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    fig = Figure(figsize=(10, 4.2))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.scatter(y_pred, y_true - y_pred, s=6, alpha=0.5)
    left.axhline(0, color="k", linewidth=0.8)
    left.set_xlabel("predicted")
    left.set_ylabel("residual (true - predicted)")
    left.set_title("Residuals")
    right.scatter(y_true, y_pred, s=6, alpha=0.5)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    right.plot([lo, hi], [lo, hi], "k--", linewidth=0.8)
    right.set_xlabel("true")
    right.set_ylabel("predicted")
    right.set_title("Predicted vs true")
    return fig


def curve_figure(
    x: Sequence[Any],
    train: Any,
    valid: Any,
    xlabel: str,
    ylabel: str,
    title: str,
    log_x: bool = False,
) -> Any:
    """Train and validation score (mean ± std bands over folds) against ``x``.

    Used for the learning curve (x = training size) and the validation curve
    (x = a hyperparameter's values).
    """
    import numpy as np

    fig, ax = _figure()
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in x)
    xs = np.asarray(x, dtype=float) if numeric else np.arange(len(x))
    for scores, name in ((train, "train"), (valid, "validation")):
        mean, std = np.mean(scores, axis=1), np.std(scores, axis=1)
        ax.plot(xs, mean, marker="o", markersize=3, label=name)
        ax.fill_between(xs, mean - std, mean + std, alpha=0.2)
    if not numeric:
        ax.set_xticks(list(xs), [str(v) for v in x], rotation=30, ha="right")
    if log_x and numeric and float(np.min(xs)) > 0:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return fig


def bar_figure(
    names: Sequence[str], values: Sequence[float], title: str, xlabel: str, top: int = 20
) -> Any:
    """Horizontal bars, largest on top (feature and parameter importance)."""
    import numpy as np

    order = np.argsort(np.asarray(values, dtype=float))[::-1][:top][::-1]
    fig, ax = _figure(6, max(2.5, 0.3 * len(order) + 1.2))
    ax.barh([str(names[i]) for i in order], [float(values[i]) for i in order])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig


def history_figure(values: Sequence[float | None], greater_is_better: bool, metric: str) -> Any:
    """Optimisation history: each trial's score and the best so far."""
    import numpy as np

    fig, ax = _figure(6, 4)
    xs = [i for i, v in enumerate(values) if v is not None]
    ys = [float(v) for v in values if v is not None]
    ax.scatter(xs, ys, s=12, label="trial", alpha=0.7)
    if ys:
        best = np.maximum.accumulate(ys) if greater_is_better else np.minimum.accumulate(ys)
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"CV {metric}")
    ax.set_title("Optimisation history")
    ax.legend(loc="best", fontsize=8)
    return fig


def explained_variance_figure(ratios: Sequence[float]) -> Any:
    """Explained variance ratio per component and its cumulative sum."""
    import numpy as np

    fig, ax = _figure()
    idx = np.arange(1, len(ratios) + 1)
    ax.bar(idx, ratios, label="per component")
    ax.plot(idx, np.cumsum(ratios), marker="o", color="tab:red", label="cumulative")
    ax.set_xlabel("component")
    ax.set_ylabel("explained variance ratio")
    ax.set_ylim(0, 1.05)
    ax.set_title("PCA explained variance")
    ax.legend(loc="center right", fontsize=8)
    return fig


def scatter_figure(points: Any, labels: Any, title: str) -> Any:
    """2-D points coloured by label (clusters on their first two components)."""
    import numpy as np

    fig, ax = _figure()
    labels = np.asarray(labels)
    for label in np.unique(labels):
        mask = labels == label
        ax.scatter(
            points[mask, 0],
            points[mask, 1],
            s=10,
            alpha=0.7,
            label="noise" if label == -1 else str(label),
        )
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8, title="cluster")
    return fig
