"""CBPE: per-class isotonic calibration (scikit-learn's, kept as thresholds) and the
expected accuracy and F1 it gives, against the realised metrics on labelled data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score

from keel.monitoring import Calibration
from keel.monitoring._cbpe import classification_metrics, regression_metrics


def _sample(rng: np.random.Generator, n: int, skew: float) -> tuple[np.ndarray, np.ndarray]:
    """An over-confident binary classifier: its score p, the truth drawn with chance
    0.5 + 0.6 (p - 0.5)."""
    p = rng.beta(skew, 1.0, n)
    truth = (rng.random(n) < 0.5 + 0.6 * (p - 0.5)).astype(int)
    return np.column_stack([1 - p, p]), truth


def test_the_thresholds_reproduce_sklearn_isotonic() -> None:
    rng = np.random.default_rng(0)
    proba, truth = _sample(rng, 3000, 1.0)
    cal = Calibration.fit(proba, truth.tolist(), [0, 1], "ref")
    fresh = rng.random(500)
    for k in (0, 1):
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(proba[:, k], (truth == k).astype(float))
        ours = np.interp(fresh, cal.x[k], cal.y[k])
        assert np.max(np.abs(ours - iso.predict(fresh))) < 1e-12
    assert Calibration.from_dict(cal.to_dict()) == cal


@pytest.mark.parametrize("skew", [1.0, 3.0, 0.5])
def test_the_estimate_tracks_the_realised_metrics_under_shift(skew: float) -> None:
    rng = np.random.default_rng(1)
    ref_proba, ref_truth = _sample(rng, 20_000, 1.0)
    cal = Calibration.fit(ref_proba, ref_truth.tolist(), [0, 1])
    proba, truth = _sample(rng, 20_000, skew)  # the scores' distribution moved
    predicted = proba.argmax(axis=1)
    estimate = cal.estimate(proba, predicted.tolist())
    assert estimate["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=0.015)
    assert estimate["f1_macro"] == pytest.approx(
        f1_score(truth, predicted, average="macro"), abs=0.02
    )
    # the raw scores are miscalibrated: their own "confidence" is far off
    naive = float(proba.max(axis=1).mean())
    assert abs(naive - accuracy_score(truth, predicted)) > 0.03


def test_unknown_predictions_and_metrics_helpers() -> None:
    cal = Calibration((0, 1), ((0.0, 1.0), (0.0, 1.0)), ((0.0, 1.0), (0.0, 1.0)), 2)
    out = cal.estimate(np.array([[0.2, 0.8], [0.9, 0.1]]), [1, "cat"])
    assert out["accuracy"] == pytest.approx(0.4)  # an unknown class is never right
    assert classification_metrics([0, 1, 1], [0, 1, 0])["accuracy"] == pytest.approx(2 / 3)
    reg = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert reg["mae"] == pytest.approx(2 / 3) and reg["rmse"] == pytest.approx((4 / 3) ** 0.5)
    assert reg["r2"] == pytest.approx(1 - 4 / 2)
    assert np.isnan(regression_metrics([1.0], [2.0])["r2"])
