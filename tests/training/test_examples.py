"""Every training example runs (smaller searches and fewer epochs under KEEL_EXAMPLE_QUICK)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_EXAMPLE_QUICK", "1")
    runpy.run_path(str(EXAMPLES / path), run_name="__main__")


def _names(client, run_id: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id)}


@pytest.mark.slow
def test_iris_random_forest_search(client, monkeypatch) -> None:
    _run("01-classic-ml/iris_random_forest.py", monkeypatch)
    (run,) = [r for r in client.search_runs("iris") if r.parent_run_id is None]
    assert run.status == "FINISHED" and run.metrics["cv.accuracy_mean"] > 0.9
    assert len(client.search_runs("iris", f"parent_run_id = '{run.id}'")) == 6
    assert {"plots/optimization_history.png", "model_card.md"} <= _names(client, run.id)


@pytest.mark.slow
def test_diabetes_regression(client, monkeypatch) -> None:
    _run("03-regression/diabetes_gradient_boosting.py", monkeypatch)
    (run,) = client.search_runs("diabetes")
    assert run.metrics["test.r2"] > 0.2
    assert {"plots/residuals.png", "plots/validation_curve.png"} <= _names(client, run.id)


def test_wine_kmeans_pca(client, monkeypatch) -> None:
    _run("04-clustering-pca/wine_kmeans_pca.py", monkeypatch)
    (run,) = client.search_runs("wine")
    assert run.metrics["adjusted_rand"] > 0.7 and "pca.explained_variance_total" in run.metrics


@pytest.mark.slow
def test_credit_fairness_and_privacy(client, monkeypatch) -> None:
    _run("05-fairness-privacy/credit_fairness_privacy.py", monkeypatch)
    runs = {r.name: r for r in client.search_runs("credit")}
    fair, private = runs["logreg-fairness"], runs["logreg-dp-eps1"]
    assert (
        fair.metrics["fairness.mitigated.demographic_parity_difference"]
        < fair.metrics["fairness.demographic_parity_difference"]
    )
    assert private.params["privacy.epsilon"] == "1.0"
    assert "fairness.demographic_parity_difference" in private.metrics


@pytest.mark.slow
def test_digits_torch(client, monkeypatch) -> None:
    pytest.importorskip("torch")
    _run("06-deep-learning/digits_torch.py", monkeypatch)
    (run,) = client.search_runs("digits")
    assert run.metrics["test.accuracy"] > 0.85
    assert len(client.get_metric_history(run.id, "epoch.val_loss")) >= 2
