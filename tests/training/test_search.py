"""Hyperparameter search: TPE, random and grid; trials as nested runs; parallel workers."""

from __future__ import annotations

import json

import pytest
from sklearn.tree import DecisionTreeClassifier

import keel
from keel.training import parse_search

SPACE = {
    "max_depth": {"type": "int", "low": 1, "high": 6},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 20, "step": 1},
    "criterion": ["gini", "entropy"],
}


def _children(client, run_id: str, experiment: str):
    return client.search_runs(experiment, f"parent_run_id = '{run_id}'")


@pytest.mark.parametrize("method", ["tpe", "random"])
def test_search_trials_are_nested_runs_and_best_params_refit(client, iris, method) -> None:
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="hpo",
        cv=3,
        evaluation=False,
        search={"method": method, "n_trials": 8, "space": SPACE},
    )
    trials = _children(client, result.run_id, "hpo")
    assert len(trials) == 8
    assert all(t.status == "FINISHED" for t in trials)
    assert {"max_depth", "min_samples_leaf", "criterion"} <= set(trials[0].params)
    run = client.get_run(result.run_id)
    assert run.params["search.method"] == method
    assert run.params["search.executor"] == "in-process"
    best = result.best_params
    assert result.model.get_params()["max_depth"] == best["max_depth"]
    assert result.metrics["search.best_accuracy"] == max(
        t.metrics["cv.accuracy_mean"] for t in trials if "cv.accuracy_mean" in t.metrics
    )


def test_grid_search_covers_the_grid(client, iris) -> None:
    space = {
        "max_depth": [1, 2, 3],
        "criterion": {"type": "categorical", "choices": ["gini", "entropy"]},
    }
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="grid",
        cv=3,
        search={"method": "grid", "space": space},
    )
    trials = _children(client, result.run_id, "grid")
    seen = {(t.params["max_depth"], t.params["criterion"]) for t in trials}
    assert len(trials) == 6 and len(seen) == 6
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {
        "plots/optimization_history.png",
        "plots/param_importances.png",
        "search/summary.json",
        "plots/validation_curve.png",
    } <= names
    summary = json.loads(client.load_artifact_bytes(result.run_id, "search/summary.json"))
    assert summary["n_trials"] == 6 and summary["best_params"] == dict(result.best_params)


def test_parallel_search_in_worker_processes(client, iris) -> None:
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="par",
        cv=3,
        evaluation=False,
        search={"n_trials": 6, "n_jobs": 2, "space": SPACE},
    )
    assert (
        client.get_run(result.run_id)
        .params["search.executor"]
        .startswith("keel.compute.LocalProcessExecutor(2)")
    )
    trials = _children(client, result.run_id, "par")
    assert len(trials) == 6
    assert (
        len(
            {
                t.params["keel.trial.number"]
                if "keel.trial.number" in t.params
                else t.tags["keel.trial.number"]
                for t in trials
            }
        )
        == 6
    )


def test_tpe_prunes_poor_trials(client, iris) -> None:
    space = {
        "max_depth": {"type": "int", "low": 1, "high": 8},
        "min_samples_leaf": {"type": "int", "low": 1, "high": 60},
    }
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="prune",
        cv=5,
        evaluation=False,
        search={"n_trials": 25, "space": space, "random_state": 3},
    )
    trials = _children(client, result.run_id, "prune")
    states = {t.tags.get("keel.trial.state") for t in trials}
    assert len(trials) == 25
    assert states <= {"complete", "pruned"}
    assert result.metrics["search.n_pruned"] == sum(
        t.tags.get("keel.trial.state") == "pruned" for t in trials
    )


def test_a_search_whose_every_trial_fails_raises_search_failed(client, iris) -> None:
    from keel.errors import error_for_code
    from keel.training import SearchFailedError

    # min_samples_leaf as a float must lie in (0, 1): every trial's fit is refused
    space = {"min_samples_leaf": {"type": "float", "low": 2.5, "high": 3.5}}
    with pytest.raises(SearchFailedError) as caught:
        keel.train(
            DecisionTreeClassifier(random_state=0),
            iris,
            target="species",
            experiment="allfail",
            cv=2,
            evaluation=False,
            search={"method": "random", "n_trials": 3, "space": space},
        )
    message = str(caught.value)
    assert "none of the 3 search trials completed (3 failed, 0 pruned)" in message
    assert "min_samples_leaf" in message  # the first failure is quoted
    assert "trial-0" in message and "search space" in message  # where to look, what to do
    assert caught.value.http_status == 422
    assert error_for_code(caught.value.code) is SearchFailedError
    (parent,) = [r for r in client.search_runs("allfail") if r.parent_run_id is None]
    assert parent.status == "FAILED" and "SearchFailedError" in parent.error
    trials = _children(client, parent.id, "allfail")
    assert len(trials) == 3 and all(t.status == "FAILED" for t in trials)
    assert any(t.id in message for t in trials)


def test_search_space_types_parse() -> None:
    from keel.training._space import grid_values

    config = parse_search(
        {
            "space": {
                "a": {"type": "log", "low": 1e-4, "high": 1.0},
                "b": {"type": "float", "low": 0, "high": 1, "step": 0.5},
                "c": [None, (1, 2)],
            }
        }
    )
    assert grid_values("b", config.space["b"]) == [0.0, 0.5, 1.0]
    assert config.space["a"].type == "log" and config.space["c"].choices == [None, (1, 2)]
    assert config.method == "tpe" and config.trials() == 20
    with pytest.raises(keel.training.TrainingInputError, match="cannot enumerate .*'a'"):
        parse_search({"method": "grid", "space": {"a": {"type": "log", "low": 1e-4, "high": 1}}})
