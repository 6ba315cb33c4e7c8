"""keel.sklearn: autolog and skops models with recorded trusted types."""

from __future__ import annotations

import json

import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keel
from keel.errors import InvalidArgumentError


@pytest.fixture
def autolog():
    keel.sklearn.autolog()
    yield
    keel.sklearn.autolog(disable=True)


def test_autolog_records_a_pipeline_fit_once(client, autolog) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    runs = keel.search_runs()
    assert len(runs) == 1  # the steps' own fits are not separate runs
    run = client.get_run(runs.run_id[0])
    assert run.params["logisticregression__max_iter"] == "500"
    assert run.metrics["training_score"] == pytest.approx(model.score(X, y))
    assert run.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    loaded = keel.sklearn.load_model(run.id)
    assert (loaded.predict(X) == model.predict(X)).all()
    descriptor = json.loads(client.load_artifact_bytes(run.id, "model/keel-model.json"))
    assert descriptor["format"] == "skops" and descriptor["classes"] == [0, 1, 2]
    example = json.loads(client.load_artifact_bytes(run.id, "model/input_example.json"))
    assert example["columns"] == list(X.columns) and len(example["data"]) == 5


def test_autolog_logs_into_the_active_run(client, autolog) -> None:
    X, y = load_iris(return_X_y=True)
    with keel.start_run(experiment="mine") as run:
        RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    got = client.get_run(run.id)
    assert got.params["n_estimators"] == "5"
    assert "model/model.skops" in [a.path for a in client.list_artifacts(run.id)]


def test_a_run_autolog_started_is_named_on_stderr_when_it_ends(client, autolog, capfd) -> None:
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    (run_id,) = keel.search_runs().run_id
    run = client.get_run(run_id)
    assert run.status == "FINISHED"
    assert capfd.readouterr().err.splitlines() == [
        f"keel: run {run_id} 'LogisticRegression' (experiment 'default') ended: FINISHED"
    ]
    with keel.start_run(experiment="mine"):  # not autolog's run: it says nothing
        LogisticRegression(max_iter=300).fit(X, y)
    assert capfd.readouterr().err == ""


def test_autolog_silent_prints_nothing(client, capfd) -> None:
    keel.sklearn.autolog(silent=True)
    try:
        X, y = load_iris(return_X_y=True)
        LogisticRegression(max_iter=300).fit(X, y)
    finally:
        keel.sklearn.autolog(disable=True)
    assert len(keel.search_runs()) == 1
    assert capfd.readouterr().err == ""


def test_a_failing_fit_ends_autologs_run_failed_and_names_it(client, autolog, capfd) -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError):
        LogisticRegression(C=-1.0).fit(X, y)
    (run_id,) = keel.search_runs().run_id
    assert client.get_run(run_id).status == "FAILED"
    assert f"keel: run {run_id} 'LogisticRegression' (experiment 'default') ended: FAILED" in (
        capfd.readouterr().err
    )


def test_autolog_disable_restores_fit(client) -> None:
    keel.sklearn.autolog()
    keel.sklearn.autolog(disable=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert keel.search_runs().empty


def test_a_skops_file_needing_unrecorded_types_is_refused(client) -> None:
    X, y = load_iris(return_X_y=True)
    with keel.start_run(experiment="m") as run:
        keel.sklearn.log_model(RandomForestClassifier(n_estimators=3).fit(X, y))
    data = client.load_artifact_bytes(run.id, "model/model.skops")
    descriptor = json.loads(client.load_artifact_bytes(run.id, "model/keel-model.json"))
    assert descriptor["trusted_types"] == ["sklearn.tree._tree.Tree"]
    with pytest.raises(InvalidArgumentError, match=r"not recorded.*sklearn\.tree\._tree\.Tree"):
        keel.sklearn.load_skops(data, trusted=[])
    assert keel.sklearn.load_model(run.id).predict(X[:3]).shape == (3,)


def test_log_model_needs_a_run(client) -> None:
    with pytest.raises(InvalidArgumentError, match="needs a run"):
        keel.sklearn.log_model(LogisticRegression())
