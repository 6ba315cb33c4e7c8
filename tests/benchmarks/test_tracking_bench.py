"""Smoke test of benchmarks/tracking.py: it runs and prints its table (nothing is timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tracking.py"


def test_tracking_benchmark_quick_keel_only(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--keel-only", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for row in (
        "log_metric, per call (vs MLflow sync)",
        "per value (vs MLflow log_batch)",
        "run: start+5 params+5 metrics+end",
        "search (metric filter + order)",
    ):
        assert row in proc.stdout
    data = json.loads(out.read_text())
    assert {r["operation"] for r in data["rows"]} >= {"search (metric filter + order)"}
    # every keel measurement ran, on both durability settings, and stored every value
    assert set(data["costs"]) == {"keel", "keel_full"}
    assert set(data["costs"]["keel"]) == {"metric_call", "run", "search"}
    for rec in data["raw"]:
        res = rec["result"]
        stored = res["stored"]
        if isinstance(stored, int):
            assert stored == res["values"]
        else:
            assert stored["runs"] == res["runs"]
            assert res["hits"] == res["expected_hits"]
