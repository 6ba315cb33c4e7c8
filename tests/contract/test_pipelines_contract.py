"""The PipelineStore contract, on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import pytest

from keel.errors import InvalidArgumentError, NotFoundError, RunStateError
from keel.store import (
    PipelineRunStatus,
    StepInput,
    StepOutput,
    StepStatus,
    Store,
)
from keel_server import recorded

OUT = StepOutput("return", "json", "ab" * 32, "ab" * 32, "p.a", "json")


def _run(store: Store, name: str = "etl"):  # type: ignore[no-untyped-def]
    return store.pipelines.create_pipeline_run(
        name,
        [("a", []), ("b", ["a"]), ("c", ["a"])],
        params={"n": 3},
        user="ann",
        executor="process",
    )


def test_create_records_every_step_pending_in_order(store: Store) -> None:
    run = _run(store)
    assert run.status is PipelineRunStatus.RUNNING and run.end_time is None
    assert [s.name for s in run.steps] == ["a", "b", "c"]
    assert all(s.status is StepStatus.PENDING for s in run.steps)
    assert run.step("b").upstream == ("a",)
    got = store.pipelines.get_pipeline_run(run.id)
    assert got == run
    assert (
        got.params == {"n": 3} and got.user == recorded(store, "ann") and got.executor == "process"
    )


def test_step_lifecycle_round_trips_inputs_outputs_logs_and_errors(store: Store) -> None:
    run = _run(store)
    a, b, c = run.steps
    started = store.pipelines.start_step_run(
        a.id, "k" * 64, "h" * 64, {"n": 3}, [StepInput("path", "source_file", "file:///x", "x1")]
    )
    assert started.status is StepStatus.RUNNING and started.start_time is not None
    done = store.pipelines.finish_step_run(
        a.id, StepStatus.FINISHED, [OUT], logs="hello\n", attempts=2
    )
    assert done.status is StepStatus.FINISHED and done.outputs == (OUT,)
    assert done.logs == "hello\n" and done.attempts == 2 and done.duration_ms is not None
    assert done.inputs[0].ref == "file:///x" and done.params == {"n": 3}
    failed_input = StepInput("a", "step_output", "a.return", OUT.content_hash, OUT)
    store.pipelines.start_step_run(b.id, "k2" * 32, "h" * 64, {}, [failed_input])
    failed = store.pipelines.finish_step_run(
        b.id, StepStatus.FAILED, error="ValueError: bad", traceback="Traceback ...\nValueError"
    )
    assert failed.error == "ValueError: bad" and failed.traceback.endswith("ValueError")
    assert failed.inputs[0].output == OUT
    skipped = store.pipelines.finish_step_run(c.id, StepStatus.UPSTREAM_FAILED, error="not run")
    assert skipped.status is StepStatus.UPSTREAM_FAILED
    ended = store.pipelines.end_pipeline_run(run.id, PipelineRunStatus.FAILED)
    assert ended.status is PipelineRunStatus.FAILED and ended.end_time is not None
    assert [s.status for s in ended.steps] == [
        StepStatus.FINISHED,
        StepStatus.FAILED,
        StepStatus.UPSTREAM_FAILED,
    ]


def test_state_rules(store: Store) -> None:
    run = _run(store)
    a = run.steps[0]
    store.pipelines.start_step_run(a.id, "k" * 64, "h", {}, [])
    with pytest.raises(RunStateError, match="only a PENDING"):
        store.pipelines.start_step_run(a.id, "k" * 64, "h", {}, [])
    with pytest.raises(InvalidArgumentError, match="FINISHED, CACHED"):
        store.pipelines.finish_step_run(a.id, StepStatus.RUNNING)
    with pytest.raises(InvalidArgumentError, match="cached_from"):
        store.pipelines.finish_step_run(a.id, StepStatus.CACHED, [OUT])
    store.pipelines.finish_step_run(a.id, StepStatus.FINISHED, [OUT])
    with pytest.raises(RunStateError, match="already ended"):
        store.pipelines.finish_step_run(a.id, StepStatus.FAILED)
    store.pipelines.end_pipeline_run(run.id, PipelineRunStatus.FINISHED)
    with pytest.raises(RunStateError, match="already ended"):
        store.pipelines.end_pipeline_run(run.id, PipelineRunStatus.FAILED)
    with pytest.raises(InvalidArgumentError, match="FINISHED or FAILED"):
        store.pipelines.end_pipeline_run(run.id, PipelineRunStatus.RUNNING)


def test_cache_lookup_finds_the_newest_finished_step_run_only(store: Store) -> None:
    key = "c" * 64
    assert store.pipelines.find_cached_step_run(key) is None
    first = _run(store)
    store.pipelines.start_step_run(first.steps[0].id, key, "h", {}, [])
    store.pipelines.finish_step_run(first.steps[0].id, StepStatus.FAILED, error="x")
    assert store.pipelines.find_cached_step_run(key) is None  # failures are never reused
    second = _run(store)
    store.pipelines.start_step_run(second.steps[0].id, key, "h", {}, [])
    store.pipelines.finish_step_run(second.steps[0].id, StepStatus.FINISHED, [OUT])
    hit = store.pipelines.find_cached_step_run(key)
    assert hit is not None and hit.id == second.steps[0].id and hit.outputs == (OUT,)
    third = _run(store)
    store.pipelines.start_step_run(third.steps[0].id, key, "h", {}, [])
    cached = store.pipelines.finish_step_run(
        third.steps[0].id, StepStatus.CACHED, hit.outputs, cached_from=hit.id
    )
    assert cached.cache_hit and cached.cached_from == hit.id
    assert store.pipelines.find_cached_step_run(key).id == hit.id  # type: ignore[union-attr]


def test_list_and_resolve(store: Store) -> None:
    r1 = _run(store, "etl")
    r2 = _run(store, "other")
    r3 = _run(store, "etl")
    listed = store.pipelines.list_pipeline_runs()
    assert {r.id for r in listed} == {r1.id, r2.id, r3.id}
    starts = [r.start_time for r in listed]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert {r.id for r in store.pipelines.list_pipeline_runs("etl")} == {r1.id, r3.id}
    assert len(store.pipelines.list_pipeline_runs(max_results=1)) == 1
    assert all(len(r.steps) == 3 for r in listed)
    assert store.pipelines.resolve_pipeline_run_id(r2.id[:10]) == r2.id
    with pytest.raises(NotFoundError, match="no pipeline run id starts with"):
        store.pipelines.resolve_pipeline_run_id("zzzz")
    with pytest.raises(NotFoundError, match="does not exist"):
        store.pipelines.get_pipeline_run("0" * 32)
    with pytest.raises(InvalidArgumentError, match="max_results"):
        store.pipelines.list_pipeline_runs(max_results=0)


def test_bad_input_changes_nothing(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="more than once"):
        store.pipelines.create_pipeline_run("etl", [("a", []), ("a", [])])
    with pytest.raises(InvalidArgumentError, match="no steps"):
        store.pipelines.create_pipeline_run("etl", [])
    with pytest.raises(InvalidArgumentError, match="pipeline name"):
        store.pipelines.create_pipeline_run("", [("a", [])])
    with pytest.raises(InvalidArgumentError, match="JSON"):
        store.pipelines.create_pipeline_run("etl", [("a", [])], params={"x": object()})
    assert store.pipelines.list_pipeline_runs() == []


def test_long_logs_keep_head_and_tail(store: Store) -> None:
    run = _run(store)
    a = run.steps[0]
    logs = "start\n" + "x" * 1_500_000 + "\nend"
    done = store.pipelines.finish_step_run(a.id, StepStatus.FAILED, logs=logs, error="e")
    assert done.logs.startswith("start") and done.logs.endswith("end")
    assert "characters cut" in done.logs and len(done.logs) < 1_100_000
