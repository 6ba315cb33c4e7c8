"""Confidence-based performance estimation (CBPE) for classifiers, and realised metrics.

Before labels arrive, a classifier's own probabilities say how often it should be
right, once they are calibrated. :class:`Calibration` fits one isotonic regression per
class (one-vs-rest, scikit-learn's ``IsotonicRegression``) on reference data where the
labels are known, and keeps its thresholds, so it is stored as JSON and applied with
``np.interp`` without scikit-learn. On a window, the calibrated probability of the
predicted class is the chance that row is right: the expected accuracy is their mean,
and expected true and false positives per class give the expected F1 (as NannyML's
CBPE does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "Calibration",
    "classification_metrics",
    "regression_metrics",
]

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
)
REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse", "r2")


@dataclass(frozen=True)
class Calibration:
    """Per-class isotonic calibration of a classifier's probabilities.

    Attributes:
        classes: the classes, in the order of the probability columns.
        x: per class, the isotonic fit's input thresholds (increasing).
        y: per class, the calibrated probability at each threshold.
        rows: reference rows it was fitted on.
        source: the reference it was fitted on (``iris-test/1``).
    """

    classes: tuple[Any, ...]
    x: tuple[tuple[float, ...], ...]
    y: tuple[tuple[float, ...], ...]
    rows: int
    source: str = ""

    @classmethod
    def fit(
        cls, proba: np.ndarray, y_true: Sequence[Any], classes: Sequence[Any], source: str = ""
    ) -> Calibration:
        """Fit on reference probabilities (rows x classes) and their true labels."""
        from sklearn.isotonic import IsotonicRegression

        truth = np.asarray(list(y_true), dtype=object)
        xs: list[tuple[float, ...]] = []
        ys: list[tuple[float, ...]] = []
        for k, c in enumerate(classes):
            hit = np.asarray([t == c for t in truth], dtype=float)
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(proba[:, k].astype(float), hit)
            xs.append(tuple(float(v) for v in iso.X_thresholds_))
            ys.append(tuple(float(v) for v in iso.y_thresholds_))
        return cls(tuple(_plain(c) for c in classes), tuple(xs), tuple(ys), len(truth), source)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (rows normalised to sum to 1)."""
        out = np.empty_like(proba, dtype=float)
        for k in range(len(self.classes)):
            x, y = self.x[k], self.y[k]
            out[:, k] = np.interp(proba[:, k], x, y) if len(x) > 1 else (y[0] if y else 0.0)
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / max(len(self.classes), 1))
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), uniform)

    def estimate(self, proba: np.ndarray, predicted: Sequence[Any]) -> dict[str, float]:
        """Expected accuracy and macro precision/recall/F1 of ``predicted`` on these rows."""
        calibrated = self.apply(proba)
        index = {c: k for k, c in enumerate(self.classes)}
        pred_idx = np.asarray([index.get(_plain(p), -1) for p in predicted])
        known = pred_idx >= 0
        rows = np.arange(len(pred_idx))
        p_right = np.where(known, calibrated[rows, np.where(known, pred_idx, 0)], 0.0)
        out = {"accuracy": float(p_right.mean()) if len(p_right) else math.nan}
        precision, recall, f1 = [], [], []
        for k in range(len(self.classes)):
            is_pred = pred_idx == k
            tp = float(calibrated[is_pred, k].sum())
            fp = float((1.0 - calibrated[is_pred, k]).sum())
            fn = float(calibrated[~is_pred, k].sum())
            precision.append(tp / (tp + fp) if tp + fp > 0 else 0.0)
            recall.append(tp / (tp + fn) if tp + fn > 0 else 0.0)
            f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0)
        out["precision_macro"] = float(np.mean(precision))
        out["recall_macro"] = float(np.mean(recall))
        out["f1_macro"] = float(np.mean(f1))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "x": [list(v) for v in self.x],
            "y": [list(v) for v in self.y],
            "rows": self.rows,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(
            tuple(data["classes"]),
            tuple(tuple(float(v) for v in xs) for xs in data["x"]),
            tuple(tuple(float(v) for v in ys) for ys in data["y"]),
            int(data["rows"]),
            str(data.get("source", "")),
        )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, float]:
    """Accuracy and macro precision, recall and F1 (scikit-learn's, zero_division=0)."""
    from sklearn import metrics as m

    truth = [_plain(v) for v in y_true]
    pred = [_plain(v) for v in y_pred]
    return {
        "accuracy": float(m.accuracy_score(truth, pred)),
        "f1_macro": float(m.f1_score(truth, pred, average="macro", zero_division=0)),
        "precision_macro": float(m.precision_score(truth, pred, average="macro", zero_division=0)),
        "recall_macro": float(m.recall_score(truth, pred, average="macro", zero_division=0)),
    }


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """Mean absolute error, root mean squared error and R² (NaN for one row)."""
    truth = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    err = pred - truth
    out = {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean()))}
    spread = float(((truth - truth.mean()) ** 2).sum())
    out["r2"] = 1.0 - float((err**2).sum()) / spread if spread > 0 else math.nan
    return out
