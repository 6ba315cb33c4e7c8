"""Running pipelines for real: caching, failures, retries, logs, lineage, executors."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import keel
from keel.errors import InvalidArgumentError, NotFoundError
from keel.pipelines import PipelineFailedError, StepEvent, load_output
from keel.store import LineageNode, PipelineRunStatus, StepStatus


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch, client: Any) -> ModuleType:
    """The test steps, importable by name in spawned worker processes too."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("keel_test_pipeline_steps")


def _statuses(run: Any) -> dict[str, str]:
    return {s.name: s.status.value for s in run.steps}


def test_runs_in_dependency_order_and_records_each_step(steps: ModuleType, client: Any) -> None:
    events: list[StepEvent] = []
    run = steps.arith.run(params={"n": "6"}, on_event=events.append)
    assert run.status is PipelineRunStatus.FINISHED
    # topological order; declaration order among independent steps
    assert [s.name for s in run.steps] == ["numbers", "parity", "squares", "total", "report"]
    assert set(_statuses(run).values()) == {"FINISHED"}
    assert run.step("report").upstream == ("parity", "total", "squares")
    numbers = run.step("numbers")
    assert numbers.params == {"n": 6}  # "6" was coerced to the annotated int
    assert "making 6 numbers" in numbers.logs
    assert "a warning on stderr" in numbers.logs
    assert "INFO keel_test: logged through logging" in numbers.logs
    assert numbers.attempts == 1 and numbers.duration_ms is not None
    assert [o.name for o in run.step("parity").outputs] == ["evens", "odds"]
    assert load_output(run, "report") == {"evens": [0, 2, 4], "total": 15, "sum_of_squares": 55}
    assert load_output(run, "parity.odds") == [1, 3, 5]
    np.testing.assert_array_equal(load_output(run, "squares"), np.arange(6) ** 2)
    assert run.step("squares").output().kind == "npy"
    # every step went PENDING -> RUNNING -> FINISHED through the event callback
    seen = [(e.step.name, e.step.status) for e in events]
    assert ("report", StepStatus.RUNNING) in seen and ("report", StepStatus.FINISHED) in seen
    # recorded in the store as returned
    assert client.store.pipelines.get_pipeline_run(run.id) == run


def test_lineage_is_written_for_every_input_and_output(steps: ModuleType, client: Any) -> None:
    run = steps.arith.run(params={"n": 4})
    report = LineageNode("step_run", run.step("report").id)
    up = client.store.lineage.upstream(report)
    kinds = {(n.kind, n.label) for n in up.nodes}
    assert ("pipeline_run", f"arith#{run.id[:8]}") in kinds
    assert ("step_run", "arith.numbers") in kinds and ("step_run", "arith.parity") in kinds
    evens = run.step("parity").output("evens")
    relations = {(e.source.id, e.target.id, e.relation) for e in up.edges}
    assert (evens.ref, run.step("report").id, "input") in relations
    assert (run.step("parity").id, evens.ref, "output") in relations


def test_rerun_is_all_cache_hits_and_a_param_change_reruns_only_what_it_affects(
    steps: ModuleType,
) -> None:
    first = steps.arith.run(params={"n": 5})
    again = steps.arith.run(params={"n": 5})
    assert set(_statuses(again).values()) == {"CACHED"}
    assert again.cache_hits == ("numbers", "parity", "squares", "total", "report")
    hit = again.step("report")
    assert hit.cached_from == first.step("report").id
    assert hit.outputs == first.step("report").outputs
    assert load_output(again, "report") == load_output(first, "report")
    # "power" feeds only squares; report depends on squares, so it runs too
    changed = steps.arith.run(params={"n": 5, "squares.power": 3})
    assert changed.executed == ("squares", "report")
    assert changed.cache_hits == ("numbers", "parity", "total")
    assert load_output(changed, "report")["sum_of_squares"] == 100


def test_process_executor_runs_independent_steps_in_parallel(
    steps: ModuleType, tmp_path: Path
) -> None:
    run = steps.parallel.run(params={"folder": str(tmp_path)}, executor="process", max_workers=2)
    assert run.status is PipelineRunStatus.FINISHED and run.executor == "process"
    assert load_output(run, "join") == ["together", "together"]


def test_process_executor_gives_the_same_results_and_shares_the_cache(steps: ModuleType) -> None:
    run = steps.arith.run(params={"n": 7}, executor="process", max_workers=2)
    assert set(_statuses(run).values()) == {"FINISHED"}
    assert "making 7 numbers" in run.step("numbers").logs  # captured in the worker
    assert load_output(run, "report") == {"evens": [0, 2, 4, 6], "total": 21, "sum_of_squares": 91}
    again = steps.arith.run(params={"n": 7})
    assert set(_statuses(again).values()) == {"CACHED"}


def test_failure_stops_dependents_and_independent_branches_finish(steps: ModuleType) -> None:
    with pytest.raises(PipelineFailedError, match="broken on purpose") as info:
        steps.failing.run()
    run = info.value.run
    assert run is not None and run.status is PipelineRunStatus.FAILED
    assert _statuses(run) == {
        "source": "FINISHED",
        "broken": "FAILED",
        "after_broken": "UPSTREAM_FAILED",
        "independent": "FINISHED",
    }
    broken = run.step("broken")
    assert broken.error == "ValueError: broken on purpose"
    assert "Traceback" in broken.traceback and "raise ValueError" in broken.traceback
    assert run.step("after_broken").error == "not run: upstream step 'broken' failed"
    # the same with the process executor, returning the failed run instead of raising
    run = steps.failing.run(executor="process", raise_on_failure=False)
    assert _statuses(run)["after_broken"] == "UPSTREAM_FAILED"
    assert run.cache_hits == ("source", "independent")
    # a failure is never cached: fixing the param runs the step
    fixed = steps.failing.run(params={"fail": "false"})
    assert fixed.executed == ("broken", "after_broken")


def test_retries_until_success_and_records_each_attempt(steps: ModuleType, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    run = steps.flaky_pipeline.run(params={"counter": str(counter)})
    step = run.step("flaky")
    assert step.status is StepStatus.FINISHED and step.attempts == 3
    assert "flaky attempt 1 failed" in step.logs and "attempt 3 of 3" in step.logs
    counter.unlink()
    run = steps.flaky_pipeline.run(
        params={"counter": str(counter), "fail_times": 5}, raise_on_failure=False
    )
    step = run.step("flaky")
    assert step.status is StepStatus.FAILED and step.attempts == 3
    assert step.error == "RuntimeError: flaky attempt 3 failed"


def test_unsafe_outputs_are_refused_unless_pickle_is_opted_in(steps: ModuleType) -> None:
    run = steps.unsafe.run(raise_on_failure=False)
    step = run.step("makes_set")
    assert step.status is StepStatus.FAILED
    assert "builtins.set" in step.error and "allow_pickle=True" in step.error
    run = steps.pickled.run()
    assert run.step("makes_set").output().kind == "pickle"
    assert load_output(run, "uses_set") == 3
    import keel.governance

    loads = [e for e in keel.governance.list_events() if e.action == "step_output.load_pickle"]
    assert len(loads) == 1  # the consuming step's load of the pickle was audited
    assert loads[0].after == {"sha256": run.step("makes_set").output().ref}
    assert keel.governance.verify().ok


def test_source_file_content_is_in_the_cache_key_and_the_lineage(
    steps: ModuleType, tmp_path: Path, client: Any
) -> None:
    data = tmp_path / "words.txt"
    data.write_text("hello")
    first = steps.files.run(params={"path": str(data)})
    assert load_output(first, "shout") == "HELLO"
    assert steps.files.run(params={"path": str(data)}).cache_hits == ("read_text", "shout")
    data.write_text("bye")
    edited = steps.files.run(params={"path": str(data)})
    assert edited.executed == ("read_text", "shout")
    up = client.store.lineage.upstream(LineageNode("step_run", edited.step("shout").id))
    assert LineageNode("source", data.as_uri()) in up.nodes


def test_bad_params_are_clear_errors_that_record_nothing(
    steps: ModuleType, client: Any, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"param 'n' of step 'numbers' got 'many'"):
        steps.arith.run(params={"n": "many"})
    with pytest.raises(InvalidArgumentError, match="did you mean power"):
        steps.arith.run(params={"powr": 2})
    with pytest.raises(InvalidArgumentError, match="needs param 'folder'"):
        steps.parallel.run()
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        steps.files.run(params={"path": str(tmp_path / "missing.txt")})
    with pytest.raises(InvalidArgumentError, match="executor 'threads' is unknown"):
        steps.arith.run(executor="threads")
    assert client.store.pipelines.list_pipeline_runs() == []


def test_steps_defined_in_a_function_run_sequentially_only(client: Any) -> None:
    @keel.step
    def one() -> int:
        return 1

    @keel.step
    def two(one: int) -> int:
        return one + 1

    pipe = keel.Pipeline("local", [one, two])
    assert load_output(pipe.run(), "two") == 2
    with pytest.raises(InvalidArgumentError, match="define them at module level"):
        pipe.run(executor="process")


def test_tables_become_dataset_versions_and_come_back_as_annotated(
    steps: ModuleType, client: Any
) -> None:
    from keel.datasets import get

    run = steps.tables.run(executor="process", max_workers=2)
    frame = run.step("frame").output()
    assert frame.kind == "dataset" and frame.label == "tables.frame/1"
    assert frame.python_type == "pandas"
    assert get("tables.frame").to_pandas().shape == (6, 2)
    assert get("tables.as_arrow").num_rows == 4
    # a returned DatasetVersion is recorded as that same version, not copied
    assert run.step("as_version").output().ref == frame.ref
    assert load_output(run, "as_default") == {"as_polars": "polars", "as_version": "DatasetVersion"}
    assert load_output(run, "as_arrow").num_rows == 4
    # lineage: dataset version -> step run -> dataset version
    up = client.store.lineage.upstream(
        LineageNode("dataset_version", run.step("as_arrow").output().ref)
    )
    assert LineageNode("dataset_version", frame.ref) in up.nodes
    # new content is a new version of the same dataset
    again = steps.tables.run(params={"rows": 8})
    assert set(again.executed) == {"frame", "as_polars", "as_arrow", "as_version", "as_default"}
    assert again.step("frame").output().label == "tables.frame/2"


def test_an_unknown_step_or_output_names_what_exists(steps: ModuleType, client: Any) -> None:
    run = steps.arith.run()
    with pytest.raises(NotFoundError, match=r"has no step 'nope'; its steps are: .*parity"):
        run.step("nope")
    with pytest.raises(NotFoundError, match=r"no output 'nope'; its outputs are: evens, odds"):
        run.step("parity").output("nope")
    with pytest.raises(NotFoundError, match=r"has no step 'nope'"):
        load_output(run, "nope.evens")
    with pytest.raises(NotFoundError, match=r"no output 'third'; its outputs are: evens, odds"):
        load_output(run, "parity.third")
