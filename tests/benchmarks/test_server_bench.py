"""benchmarks/server.py measures what it says: its keel client, run at a tiny size.

``--quick`` starts an MLflow server and sixteen client processes (about a minute), too
slow for the test suite; instead the keel client's operations run here on an embedded
store, the client-process protocol runs with one worker, and the table is built from
made-up figures. What the operations report is checked against the store. Nothing is
timed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keel.store import open_store

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "server.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keel_server_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("KEEL_STORE_URI", "KEEL_ARTIFACT_ROOT", "KEEL_TOKEN", "KEEL_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "keel"))
    monkeypatch.setenv("KEEL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_the_keel_client_stores_what_each_operation_counts(
    bench: ModuleType, embedded: Path
) -> None:
    client = bench.KeelClient()
    bench.op_prepare(client, ["single", "batch", "runs", bench.SEARCH_EXPERIMENT, "artifacts"])
    single = bench.op_single(client, 0, "single", 30)
    assert single["count"] == single["stored"] == 30
    batch = bench.op_batch(client, 0, "batch", 2_500)  # three batches, the last one short
    assert batch["count"] == batch["stored"] == 2_500
    runs = bench.op_runs(client, 3, "runs", 4)
    assert len(runs["latencies"]) == 4
    assert bench.op_finished(client, "runs") == {"finished": 4}
    bench.op_populate(client, 0, list(range(12)), 12)
    expected = sum(1 for acc in bench.search_accs(12) if acc > 0.5)
    assert bench.op_search(client, 0, 2)["hits"] == [expected]
    with open_store(f"sqlite:///{embedded / 'keel' / 'keel.db'}") as store:
        exp = store.tracking.get_experiment_by_name("runs")
        assert exp is not None
        found = {r.name: r for r in store.tracking.search_runs([exp.id])}
    params, metrics = bench.run_metrics(3, 2)
    assert found["run-3-2"].params == params and found["run-3-2"].metrics == metrics
    artifact = embedded / "blob.bin"
    artifact.write_bytes(b"x" * 300_000)
    result = bench.op_artifact(client, 0, str(artifact), str(embedded))
    assert result["same"] and result["upload"] > 0 and result["download"] > 0


def test_shares_split_a_level_among_its_clients(bench: ModuleType) -> None:
    assert bench.shares(100, 8) == [13, 13, 13, 13, 12, 12, 12, 12]
    assert sum(bench.shares(100_000, 8)) == 100_000
    assert bench.shares(10, 8, least=2) == [2] * 8


def test_a_client_process_answers_its_commands(
    bench: ModuleType, embedded: Path, tmp_path: Path
) -> None:
    env = {"KEEL_STORE_URI": f"sqlite:///{tmp_path / 'pool' / 'keel.db'}"}
    pool = bench.Pool("embedded", 1, tmp_path, env)
    try:
        pool.run("prepare", [{"experiments": ["single"]}])
        (answer,) = pool.run("single", [{"worker": 0, "experiment": "single", "n": 25}])
        assert answer["stored"] == answer["count"] == 25 and answer["t1"] >= answer["t0"]
        with pytest.raises(SystemExit, match="failed"):
            pool.run("single", [{"worker": 0, "experiment": "single", "n": "many"}])
    finally:
        pool.close()


def _results() -> dict[str, dict[str, Any]]:
    def side(scale: float, runs: float, search_ms: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in (1, 8):
            out[f"single/{c}"] = {"rate": 1000 * scale}
            out[f"batch/{c}"] = {"rate": 200 * scale}
            out[f"runs/{c}"] = {"rate": runs, "p50_ms": 1000 / runs, "p99_ms": 2000 / runs}
            out[f"search/{c}"] = {"p50_ms": search_ms, "p99_ms": 2 * search_ms}
        out["artifact"] = {"upload": 0.3, "download": 0.2}
        return out

    results = {
        "keel": side(50, 200, 10),
        "mlflow": side(1, 10, 40),
        "embedded": side(100, 1000, 5),
    }
    results["mlflow"]["batch/8"] = {"rate": 20_000}  # keel 10,000/s: half, not 20x
    results["mlflow"]["artifact"] = {"upload": 0.6, "download": 0.1}
    return results


def test_the_table_computes_ratios_goals_and_the_rest_overhead(bench: ModuleType) -> None:
    rows = bench.build_rows(_results(), (1, 8))
    by = {(r["operation"], r["concurrency"]): r for r in rows}
    single = by[("metric values, one call each", 1)]
    assert single["speedup"] == pytest.approx(50) and single["met"] == "met"
    assert single["overhead"] == pytest.approx(2)  # embedded 100,000/s, REST 50,000/s
    batch = by[("metric values, batches of 1,000", 8)]
    assert batch["speedup"] == pytest.approx(0.5) and batch["met"] == "NOT met"
    run = by[("run: start + 5 params + 5 metrics + end", 1)]
    assert run["speedup"] == pytest.approx(20) and run["met"] == "met" and run["goal"] == 10
    p50 = by[("run, p50 latency", 8)]
    assert p50["speedup"] == pytest.approx(20) and p50["met"] is None  # lower is better
    search = by[("search 1,000 runs (`metrics.acc > 0.5`), p50", 1)]
    assert search["speedup"] == pytest.approx(4) and search["overhead"] == pytest.approx(2)
    floor = {"copy": 0.25, "copy_fsync": 0.3}
    upload, download = bench.artifact_rows(_results(), floor)
    assert upload["vs_copy"] == pytest.approx(1.2) and upload["met"] == "met"
    assert upload["speedup"] == pytest.approx(2)
    assert download["vs_copy"] == pytest.approx(0.8) and download["speedup"] == pytest.approx(0.5)


def test_the_printed_tables_have_one_line_per_row(bench: ModuleType) -> None:
    rows = bench.build_rows(_results(), (1, 8))
    arts = bench.artifact_rows(_results(), {"copy": 0.1, "copy_fsync": 0.2})
    text = bench.format_tables(rows, arts, 100)
    tracking, artifacts = text.split("\n\n")
    lines = tracking.splitlines()
    assert lines[0].startswith("| operation | clients | keel server | MLflow server |")
    assert len(lines) == 2 + len(rows) == 2 + 7 * 2
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    art = artifacts.splitlines()
    assert art[0].startswith("| artifact, 100 MB |") and len(art) == 4
    assert all(line.count("|") == art[0].count("|") for line in art)
    assert "| 3.0x | <= 1.5x | NOT met |" in art[2]  # upload 0.3 s vs a 0.1 s copy
    assert "| 50.0x | >= 20x | met |" in lines[2]


def test_a_side_left_out_shows_dashes_not_ratios(bench: ModuleType) -> None:
    results = _results()
    del results["mlflow"]
    rows = bench.build_rows(results, (1, 8))
    assert all(r["speedup"] is None and r["met"] is None for r in rows)
    assert all(r["overhead"] is not None for r in rows)
    text = bench.format_tables(
        rows, bench.artifact_rows(results, {"copy": 0.1, "copy_fsync": 0.2}), 100
    )
    assert "| - | - |" in text
