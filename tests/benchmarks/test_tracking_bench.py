"""benchmarks/tracking.py measures what it says: its own code, run at a tiny size.

The benchmark's workers are run here (in this process, and once through the fresh
process the benchmark uses), and what they report is checked against the database
itself: every value they count is stored, searches find the runs they should, and the
guards that make the benchmark fail on a lost value do fail. Nothing is timed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from keel.store import RunStatus, Store, open_store

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tracking.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keel_tracking_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder a worker runs in, with keel's home where the worker counts rows."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "keel"))
    return tmp_path


def _store(folder: Path) -> Store:
    return open_store(f"sqlite:///{folder / 'keel' / 'keel.db'}")


def test_log_metric_worker_stores_every_value_it_counts(bench: ModuleType, bench_dir: Path) -> None:
    result = bench.worker_keel_log_metric(bench_dir, 40)
    assert result["values"] == result["stored"] == 40
    with _store(bench_dir) as store:
        exp = store.tracking.get_experiment_by_name("bench")
        assert exp is not None
        (run,) = store.tracking.search_runs([exp.id])
        assert run.status is RunStatus.FINISHED  # the clock stopped after the run ended
        history = store.tracking.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(i, i * 0.001) for i in range(40)]
    bench._check_metrics("keel/log_metric", result)


def test_runs_worker_stores_runs_and_finds_what_it_should(
    bench: ModuleType, bench_dir: Path
) -> None:
    result = bench.worker_keel_runs(bench_dir, n_runs=6, n_searches=2)
    values = bench._run_values(6)
    expected = sorted(
        (f"run-{i}" for i, (_, m) in enumerate(values) if m["m0"] > 0.5),
        key=lambda name: -values[int(name.split("-")[1])][1]["m1"],
    )
    assert result["stored"] == {"runs": 6, "params": 30, "metrics": 30}
    assert result["hits"] == result["expected_hits"] == len(expected)
    with _store(bench_dir) as store:
        exp = store.tracking.get_experiment_by_name("bench-runs")
        assert exp is not None
        found = store.tracking.search_runs([exp.id], bench.FILTER_KEEL, bench.ORDER_BY)
        for i, (params, metrics) in enumerate(values):
            (run,) = store.tracking.search_runs([exp.id], f"run_name = 'run-{i}'")
            assert run.params == params and run.metrics == metrics
    assert [r.name for r in found] == expected
    bench._check_runs("keel/runs", result)


def test_the_guards_fail_the_benchmark_on_a_lost_value(bench: ModuleType) -> None:
    with pytest.raises(SystemExit, match="39 of 40 values stored"):
        bench._check_metrics("keel/log_metric", {"values": 40, "stored": 39})
    runs = {"runs": 2, "stored": {"runs": 2, "params": 10, "metrics": 9}}
    with pytest.raises(SystemExit, match="expected"):
        bench._check_runs("keel/runs", {**runs, "hits": 1, "expected_hits": 1})
    runs["stored"] = {"runs": 2, "params": 10, "metrics": 10}
    with pytest.raises(SystemExit, match="search found 0 runs, expected 1"):
        bench._check_runs("keel/runs", {**runs, "hits": 0, "expected_hits": 1})


def test_the_table_computes_speed_ups_and_goals(bench: ModuleType) -> None:
    costs = {
        "keel": {"metric_call": 1e-6, "run": 1e-3, "search": 1e-3},
        "keel_full": {"metric_call": 1e-6, "run": 4e-3, "search": 1e-3},
        "mlflow": {"metric_call": 4e-3, "batch_value": 1e-4, "run": 2e-2, "search": 2e-3},
    }
    rows = {r["operation"]: r for r in bench.build_rows(costs)}
    call = rows["log_metric, per call (vs MLflow sync)"]
    assert call["ratio"] == pytest.approx(4000) and call["met"] == "yes"
    batch = rows["per value (vs MLflow log_batch)"]
    assert batch["ratio"] == pytest.approx(100) and batch["met"] == "yes"
    run = rows["run: start+5 params+5 metrics+end"]
    assert run["ratio"] == pytest.approx(20) and run["ratio_full"] == pytest.approx(5)
    assert run["met"] == "default only"  # 10x at the default, not at FULL
    search = rows["search (metric filter + order)"]
    assert search["ratio"] == pytest.approx(2) and search["met"] == "NO"
    assert rows["log_metric, per call (vs MLflow async)"]["ratio"] is None  # not measured
    table = bench.format_table(list(rows.values()))
    assert "4,000x" in table and "default only" in table and ">=10x" in table


def test_a_worker_in_its_own_process_reports_what_it_stored(bench: ModuleType) -> None:
    result = bench.run_worker("keel_log_metric", {"n": 25}, timeout=300)
    assert result["values"] == result["stored"] == 25
