"""Differential privacy with diffprivlib counterparts."""

from __future__ import annotations

import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import keel
from keel.responsible import PrivacyError, check_private, make_private, parse_privacy


@pytest.mark.parametrize(
    ("model", "target", "task"),
    [
        (LogisticRegression(), "species", "classification"),
        (GaussianNB(), "species", "classification"),
        (RandomForestClassifier(n_estimators=5, max_depth=3), "species", "classification"),
        (LinearRegression(), "petal width (cm)", "regression"),
        (KMeans(3, n_init=2), None, "clustering"),
        (PCA(2), None, "decomposition"),
    ],
)
def test_each_private_counterpart_trains_and_records_epsilon(client, iris, model, target, task):
    frame = iris if target else iris.drop(columns="species")
    if task == "regression":
        frame = iris.drop(columns="species")
    result = keel.train(
        model,
        frame,
        target=target,
        task=task,
        experiment="dp",
        privacy={"epsilon": 2.0},
        evaluation=False,
        cv=3,
    )
    run = client.get_run(result.run_id)
    assert run.params["privacy.epsilon"] == "2.0"
    assert run.params["privacy.mechanism"].startswith("diffprivlib.models.")
    assert result.metrics["privacy.epsilon"] == 2.0
    assert type(result.model).__module__.startswith("diffprivlib")
    card = result.model_card
    assert card["privacy"]["epsilon"] == 2.0
    assert any("leaks information" in c for c in card["limitations"])


def test_given_bounds_are_used_and_no_leak_caveat(iris) -> None:
    X = iris.drop(columns="species")
    model, record = make_private(
        make_pipeline(StandardScaler(), LogisticRegression()),
        parse_privacy({"epsilon": 1.0, "bounds": [-4, 4], "data_norm": 8.0}),
        X,
        iris.species,
    )
    assert record["computed_from_data"] == []
    assert model.steps[-1][1].data_norm == 8.0
    assert model.fit(X, iris.species).score(X, iris.species) > 0.3


def test_no_counterpart_and_bad_config() -> None:
    with pytest.raises(PrivacyError, match="SVC has no differentially private counterpart"):
        check_private(SVC())
    with pytest.raises(PrivacyError, match="epsiln"):
        parse_privacy({"epsiln": 1.0})
