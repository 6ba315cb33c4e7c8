"""benchmarks/drift.py measures what it says: its workers, run at a tiny size. Nothing is timed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "drift.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keel_drift_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workers_agree_on_the_shifted_columns(bench: ModuleType, tmp_path: Path) -> None:
    ref, cur, sketch = tmp_path / "ref.parquet", tmp_path / "cur.parquet", tmp_path / "s.keelsketch"
    bench.generate(ref, 5_000, False, 1)
    bench.generate(cur, 5_000, True, 2)
    keel = bench._worker_keel(str(ref), str(cur), None)
    assert set(keel["drifted"]) == {"col_00", "col_01", "col_02", "col_03"}
    bench._worker_sketch(str(ref), str(sketch))
    from_sketch = bench._worker_keel(str(ref), str(cur), str(sketch))
    assert from_sketch["drifted"] == keel["drifted"]
    assert bench._max_diff(from_sketch["scores"], keel["scores"]) < 0.01
    floor = bench._worker_floor(str(ref), str(cur))
    assert {c for c, v in floor["scores"].items() if v[3] >= 0.1} <= set(keel["drifted"])


def test_quick_run_prints_the_table(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--keel-only", "--json", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| 20,000 | keel |" in proc.stdout and "numpy floor" in proc.stdout
    assert (tmp_path / "r.json").exists()
