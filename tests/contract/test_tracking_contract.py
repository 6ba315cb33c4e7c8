"""The TrackingStore contract, run on every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import math

import pytest

from keel.errors import (
    ConflictError,
    InvalidArgumentError,
    InvalidPathError,
    NotFoundError,
    RunStateError,
)
from keel.store import ArtifactRecord, Metric, RunStatus, Store
from keel_server import recorded


def _run(store: Store, exp_name: str = "exp", **kw: object):
    exp = store.tracking.get_or_create_experiment(exp_name)
    return store.tracking.create_run(exp.id, **kw)


def test_experiments_are_unique_by_name(store: Store) -> None:
    t = store.tracking
    exp = t.create_experiment("iris", tags={"team": "a"})
    assert t.get_experiment(exp.id).tags == {"team": "a"}
    assert t.get_experiment_by_name("iris") == exp
    assert t.get_experiment_by_name("nope") is None
    with pytest.raises(ConflictError, match="already exists"):
        t.create_experiment("iris")
    assert t.get_or_create_experiment("iris").id == exp.id
    assert [e.name for e in t.list_experiments()] == ["iris"]
    with pytest.raises(NotFoundError):
        t.get_experiment("0" * 32)


def test_run_lifecycle_and_final_state_is_immutable(store: Store) -> None:
    run = _run(store, name="first", tags={"team": "a"}, user="ana")
    got = store.tracking.get_run(run.id)
    assert (
        got.status is RunStatus.RUNNING
        and got.name == "first"
        and got.user == recorded(store, "ana")
    )
    assert got.tags == {"team": "a"}
    ended = store.tracking.end_run(run.id, RunStatus.FAILED, error="boom")
    assert ended.status is RunStatus.FAILED and ended.error == "boom" and ended.end_time
    with pytest.raises(RunStateError, match="has ended"):
        store.tracking.log_batch(run.id, [Metric("m", 1.0, 0, 1)])
    with pytest.raises(RunStateError):
        store.tracking.end_run(run.id, RunStatus.FINISHED)
    assert store.tracking.get_metric_history(run.id, "m") == []


def test_params_cannot_change_and_a_conflict_writes_nothing(store: Store) -> None:
    run = _run(store)
    store.tracking.log_batch(run.id, params={"lr": "0.1"})
    store.tracking.log_batch(run.id, params={"lr": "0.1"})  # same value: fine
    with pytest.raises(ConflictError, match="'lr'.*'0.1'.*'0.2'"):
        store.tracking.log_batch(
            run.id, [Metric("loss", 1.0, 0, 1)], params={"lr": "0.2", "depth": "3"}
        )
    got = store.tracking.get_run(run.id)
    assert got.params == {"lr": "0.1"}
    assert got.metrics == {}  # the whole batch was refused


def test_nan_and_infinities_round_trip(store: Store) -> None:
    run = _run(store)
    values = [math.nan, math.inf, -math.inf, 0.0, -1.5e308]
    store.tracking.log_batch(run.id, [Metric("x", v, i, i) for i, v in enumerate(values)])
    history = store.tracking.get_metric_history(run.id, "x")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert math.isnan(history[0].value)
    assert history[1].value == math.inf and history[2].value == -math.inf
    assert history[4].value == -1.5e308
    store.tracking.log_batch(run.id, [Metric("y", math.nan, 0, 0)])
    assert math.isnan(store.tracking.get_run(run.id).metrics["y"])


def test_latest_metric_is_the_highest_step(store: Store) -> None:
    run = _run(store)
    store.tracking.log_batch(run.id, [Metric("acc", 0.5, 5, 10), Metric("acc", 0.9, 2, 20)])
    assert store.tracking.get_run(run.id).metrics["acc"] == 0.5
    store.tracking.log_batch(run.id, [Metric("acc", 0.7, 1, 30)])  # older step: not latest
    assert store.tracking.get_run(run.id).metrics["acc"] == 0.5
    store.tracking.log_batch(run.id, [Metric("acc", 0.95, 6, 40)])
    assert store.tracking.get_run(run.id).metrics["acc"] == 0.95
    assert len(store.tracking.get_metric_history(run.id, "acc")) == 4


def test_tags_may_change_while_running(store: Store) -> None:
    run = _run(store)
    store.tracking.log_batch(run.id, tags={"stage": "a"})
    store.tracking.log_batch(run.id, tags={"stage": "b"})
    assert store.tracking.get_run(run.id).tags["stage"] == "b"


@pytest.fixture
def searchable(store: Store) -> Store:
    t = store.tracking
    exp = t.get_or_create_experiment("search")
    other = t.get_or_create_experiment("other")
    specs = [
        ("rf-1", "rf", "a", 0.95, 0.1),
        ("rf-2", "rf", "b", 0.85, 0.3),
        ("lr-1", "lr", "a", 0.91, 0.2),
        ("lr-2", "lr", "a", math.nan, 0.5),
        ("svm", "svm", "b", 0.99, None),
    ]
    for name, model, team, acc, loss in specs:
        run = t.create_run(exp.id, name=name, tags={"team": team})
        metrics = [Metric("accuracy", acc, 0, 1)]
        if loss is not None:
            metrics.append(Metric("loss", loss, 0, 1))
        t.log_batch(run.id, metrics, params={"model": model, "n": "100"})
        t.end_run(run.id, RunStatus.FAILED if name == "svm" else RunStatus.FINISHED)
    run = t.create_run(other.id, name="elsewhere")
    t.log_batch(run.id, [Metric("accuracy", 1.0, 0, 1)], params={"model": "rf"})
    return store


def _names(store: Store, flt: str | None, order: tuple[str, ...] = (), n: int = 100) -> list[str]:
    exp = store.tracking.get_experiment_by_name("search")
    assert exp is not None
    return [r.name for r in store.tracking.search_runs([exp.id], flt, order, n)]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("metrics.accuracy > 0.9 and params.model = 'rf' and tags.team = 'a'", {"rf-1"}),
        ("metrics.accuracy > 0.9", {"rf-1", "lr-1", "svm"}),  # NaN never matches
        ("metrics.accuracy >= 0.85 and metrics.accuracy <= 0.91", {"rf-2", "lr-1"}),
        ("params.model != 'rf'", {"lr-1", "lr-2", "svm"}),
        ("params.model in ('lr', 'svm') and tags.team = 'b'", {"svm"}),
        ("params.model not in ('lr', 'svm')", {"rf-1", "rf-2"}),
        ("run_name like 'rf-%'", {"rf-1", "rf-2"}),
        ("attributes.run_name ilike 'RF-%'", {"rf-1", "rf-2"}),
        ("status = 'failed'", {"svm"}),
        ("metrics.loss < 0.25 or params.model = 'svm'", {"rf-1", "lr-1", "svm"}),
        ("(metrics.loss < 0.25 or tags.team = 'b') and params.model = 'rf'", {"rf-1", "rf-2"}),
        ("params.n = 100", {"rf-1", "rf-2", "lr-1", "lr-2", "svm"}),
        ("metrics.`loss` = null", {"svm"}),
        ("params.missing = null", {"rf-1", "rf-2", "lr-1", "lr-2", "svm"}),
        ("params.model = 'x\\' or 1=1 --'", set()),  # an escaped quote stays a literal
    ],
)
def test_search_filters(searchable: Store, flt: str, expected: set[str]) -> None:
    assert set(_names(searchable, flt)) == expected


def test_search_order_and_limit(searchable: Store) -> None:
    assert _names(searchable, None, ("metrics.accuracy DESC",)) == [
        "svm",
        "rf-1",
        "lr-1",
        "rf-2",
        "lr-2",
    ]
    assert _names(searchable, None, ("metrics.loss ASC",), 2) == ["rf-1", "lr-1"]
    assert _names(searchable, "params.model = 'rf'", ("run_name",)) == ["rf-1", "rf-2"]
    assert len(_names(searchable, None, (), 3)) == 3


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("metrics.accuracy >", "position"),
        ("metrics.accuracy > 0.9 and", "position"),
        ("metrics.accuracy = 'high'", "numeric"),
        ("params.model > 'a'", "holds text"),
        ("colour = 'red'", "unknown run attribute"),
        ("metrics.a >> 1", "position 12"),
    ],
)
def test_invalid_filters_point_at_the_problem(searchable: Store, flt: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        _names(searchable, flt)


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        (
            "metrics.acc > 0.9",
            r"^no run in experiment 'search' has a metric 'acc'; nearest: accuracy$",
        ),
        ("params.modle = 'rf'", r"has a param 'modle'; nearest: model$"),
        ("tags.tem in ('a', 'b')", r"has a tag 'tem'; nearest: team$"),
        ("metrics.zzz != 1", r"has a metric 'zzz'; metrics there are: accuracy, loss$"),
        ("tags.zzz = 'a'", r"has a tag 'zzz'; tags there are: team$"),  # keel.* tags not listed
        # the key that exists is not blamed; every missing one is
        ("metrics.accuracy > 2 or metrics.acc > 0.9", r"has a metric 'acc'; nearest: accuracy$"),
        (
            "metrics.accurcy > 1 and params.mdl = 'rf'",
            r"has a metric 'accurcy' \(nearest: accuracy\) or a param 'mdl' \(nearest: model\)$",
        ),
    ],
)
def test_an_empty_search_names_the_key_no_run_has(
    searchable: Store, flt: str, message: str
) -> None:
    with pytest.raises(NotFoundError, match=message):
        _names(searchable, flt)


def test_a_search_that_only_matches_nothing_is_empty(searchable: Store) -> None:
    t = searchable.tracking
    search, other = t.get_experiment_by_name("search"), t.get_experiment_by_name("other")
    assert search is not None and other is not None
    assert _names(searchable, "metrics.accuracy > 2") == []  # the key exists: no match, no error
    assert _names(searchable, "params.model = 'x'") == []
    (elsewhere,) = t.search_runs([other.id])
    t.log_batch(elsewhere.id, [Metric("only_there", 1.0, 0, 1)])
    # only the searched experiments count
    with pytest.raises(NotFoundError, match="no run in experiment 'search' has a metric"):
        _names(searchable, "metrics.only_there > 0")
    assert t.search_runs([search.id, other.id], "metrics.only_there > 5") == []
    with pytest.raises(NotFoundError, match="^no run in any experiment has a param 'p'"):
        t.search_runs([search.id, other.id], "params.p = 'x'")
    # an experiment without runs has nothing to explain
    empty = t.create_experiment("empty")
    assert t.search_runs([empty.id], "metrics.acc > 0.9") == []


def test_resolve_run_id_prefix_and_nearest(store: Store) -> None:
    run = _run(store)
    assert store.tracking.resolve_run_id(run.id[:10]) == run.id
    with pytest.raises(NotFoundError, match="does not exist"):
        store.tracking.resolve_run_id("zz-not-hex")
    with pytest.raises(NotFoundError, match="nearest"):
        store.tracking.get_run(run.id[:-1] + ("0" if run.id[-1] != "0" else "1"))


def test_artifact_records(store: Store) -> None:
    run = _run(store)
    rec = ArtifactRecord("plots/roc.png", 10, "a" * 64, 1)
    store.tracking.record_artifact(run.id, rec)
    store.tracking.record_artifact(run.id, ArtifactRecord("model/m.skops", 5, "b" * 64, 2))
    store.tracking.record_artifact(run.id, ArtifactRecord("plots_x", 5, "c" * 64, 2))
    assert [r.path for r in store.tracking.list_artifacts(run.id)] == [
        "model/m.skops",
        "plots/roc.png",
        "plots_x",
    ]
    assert store.tracking.list_artifacts(run.id, "plots/") == [rec]
    store.tracking.end_run(run.id, RunStatus.FINISHED)
    with pytest.raises(RunStateError):
        store.tracking.record_artifact(run.id, rec)


def test_nested_runs_and_unknown_parent(store: Store) -> None:
    parent = _run(store)
    child = store.tracking.create_run(parent.experiment_id, parent_run_id=parent.id)
    assert store.tracking.get_run(child.id).parent_run_id == parent.id
    found = store.tracking.search_runs([parent.experiment_id], f"parent_run_id = '{parent.id}'")
    assert [r.id for r in found] == [child.id]
    with pytest.raises(NotFoundError, match="parent run"):
        store.tracking.create_run(parent.experiment_id, parent_run_id="f" * 32)


def test_a_batch_sent_again_is_stored_once(store: Store) -> None:
    """A retried batch (its first answer lost) carries the same id and writes nothing new."""
    run = _run(store)
    batch = [Metric("loss", 0.5, 0, 1), Metric("loss", 0.4, 1, 2)]
    store.tracking.log_batch(run.id, batch, params={"lr": "0.1"}, batch_id="b-1")
    store.tracking.log_batch(run.id, batch, params={"lr": "0.1"}, batch_id="b-1")
    store.tracking.log_batch(run.id, batch[:1], batch_id="b-2")  # another batch: stored
    values = [m.value for m in store.tracking.get_metric_history(run.id, "loss")]
    assert sorted(values) == [0.4, 0.5, 0.5]
    store.tracking.end_run(run.id, RunStatus.FINISHED)
    store.tracking.log_batch(run.id, batch, batch_id="b-1")  # stored before the end: fine
    assert len(store.tracking.get_metric_history(run.id, "loss")) == 3
    with pytest.raises(RunStateError):
        store.tracking.log_batch(run.id, batch, batch_id="b-3")  # new after the end
    other = _run(store)
    with pytest.raises(ConflictError, match="another run"):
        store.tracking.log_batch(other.id, batch, batch_id="b-1")
    assert store.tracking.get_metric_history(other.id, "loss") == []


def test_a_run_created_again_with_its_id_is_the_same_run(store: Store) -> None:
    exp = store.tracking.get_or_create_experiment("retry")
    run_id = "ab" * 16
    first = store.tracking.create_run(exp.id, name="once", run_id=run_id)
    again = store.tracking.create_run(exp.id, name="once", run_id=run_id)
    assert first.id == again.id == run_id and again.name == "once"
    assert [r.id for r in store.tracking.search_runs([exp.id])] == [run_id]
    other = store.tracking.get_or_create_experiment("other")
    with pytest.raises(ConflictError, match="is taken"):
        store.tracking.create_run(other.id, run_id=run_id)
    with pytest.raises(InvalidArgumentError, match="32 lowercase hex"):
        store.tracking.create_run(exp.id, run_id="not-an-id")
    assert [r.id for r in store.tracking.search_runs([exp.id, other.id])] == [run_id]


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", "a/../../b", "c:\\x", "a\\b", "a\x00b", "a//b", ""]
)
def test_artifact_records_cannot_name_a_path_outside_the_run(store: Store, path: str) -> None:
    run = _run(store)
    with pytest.raises(InvalidPathError):
        store.tracking.record_artifact(run.id, ArtifactRecord(path, 1, "a" * 64, 1))
    assert store.tracking.list_artifacts(run.id) == []
