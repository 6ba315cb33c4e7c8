"""Fairness by group, disparity measures, and mitigation logged before and after."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import keel
from keel.responsible import assess_fairness


def test_assess_fairness_by_hand() -> None:
    y_true = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    y_pred = np.array([1, 1, 1, 1, 0, 0, 1, 0])
    groups = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4})
    report = assess_fairness(y_true, y_pred, groups, classes=[0, 1])
    # selection rate: a = 4/4, b = 1/4
    assert report.by_group["selection_rate"] == {"a": 1.0, "b": 0.25}
    assert report.metrics["demographic_parity_difference"] == pytest.approx(0.75)
    assert report.metrics["demographic_parity_ratio"] == pytest.approx(0.25)
    # TPR a = 1, b = 0.5; FPR a = 1, b = 0 -> equalized odds difference = 1
    assert report.metrics["equalized_odds_difference"] == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["threshold_optimizer", "exponentiated_gradient"])
def test_mitigation_logged_before_and_after(client, binary, method) -> None:
    frame = binary[["x1", "x2", "sex", "label"]]
    test = frame.sample(60, random_state=0)
    result = keel.train(
        LogisticRegression(),
        frame.drop(test.index),
        target="label",
        test_data=test,
        sensitive_features="sex",
        experiment="fair",
        cv=3,
        evaluation=False,
        mitigation={"method": method, "constraint": "demographic_parity"},
    )
    m = result.metrics
    for key in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
    ):
        assert f"fairness.{key}" in m and f"fairness.mitigated.{key}" in m
    assert "mitigated.accuracy" in m
    run = client.get_run(result.run_id)
    assert run.params["mitigation.method"] == method
    report = json.loads(client.load_artifact_bytes(result.run_id, "fairness/report.json"))
    assert report["evaluated_on"] == "test"
    assert set(report["by_group"]["selection_rate"]) == {"f", "m"}
    assert report["mitigated"]["method"] == method
    assert "sex" not in result.model_card["data"][0]["features"]
    preds = result.mitigated_model.predict(test[["x1", "x2"]], test["sex"])
    assert set(np.unique(preds)) <= {0, 1}
    md = client.load_artifact_bytes(result.run_id, "model_card.md").decode()
    assert "After mitigation" in md


def test_fairness_without_test_split_uses_out_of_fold_predictions(client, binary) -> None:
    result = keel.train(
        LogisticRegression(),
        binary[["x1", "x2", "sex", "label"]],
        target="label",
        sensitive_features=["sex"],
        experiment="fair",
        cv=3,
    )
    assert result.model_card["fairness"]["evaluated_on"] == "out_of_fold"
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert "plots/fairness_by_group.png" in names
