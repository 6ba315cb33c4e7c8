"""A training run whose model cannot be stored fails; it never reports success without one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.tree import DecisionTreeClassifier

import keel
from keel.training import ModelNotStoredError


class HoldsAGenerator(ClassifierMixin, BaseEstimator):
    """A classifier whose fitted state skops cannot serialise (it keeps a generator)."""

    def __init__(self, max_depth: int = 2) -> None:
        self.max_depth = max_depth

    def fit(self, X, y):
        self.tree_ = DecisionTreeClassifier(max_depth=self.max_depth, random_state=0).fit(X, y)
        self.classes_ = self.tree_.classes_
        self.pending_ = (i for i in range(3))
        return self

    def predict(self, X):
        return self.tree_.predict(X)


def test_a_model_skops_cannot_save_fails_the_run_and_the_call(client, iris) -> None:
    with pytest.raises(ModelNotStoredError) as caught:
        keel.train(
            HoldsAGenerator(), iris, target="species", experiment="unsaved", cv=2, evaluation=False
        )
    message = str(caught.value)
    assert "HoldsAGenerator" in message and "generator" in message
    assert "log_model=False" in message  # what to do
    (run,) = client.search_runs("unsaved")
    assert run.status == "FAILED"
    assert "ModelNotStoredError" in run.error and "generator" in run.error
    assert run.id in message
    assert not any(a.path.startswith("model/") for a in client.list_artifacts(run.id))


def test_log_model_false_trains_without_storing_a_model(client, iris) -> None:
    result = keel.train(
        HoldsAGenerator(),
        iris,
        target="species",
        experiment="nomodel",
        cv=2,
        evaluation=False,
        log_model=False,
    )
    run = client.get_run(result.run_id)
    assert run.status == "FINISHED" and run.error is None
    paths = {a.path for a in client.list_artifacts(run.id)}
    assert not any(p.startswith("model/") for p in paths)
    card = json.loads(client.load_artifact_bytes(run.id, "model_card.json"))
    assert any("log_model=False" in c for c in card["limitations"])
    assert np.isfinite(result.metrics["cv.accuracy_mean"])
