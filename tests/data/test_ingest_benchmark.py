"""``benchmarks/ingest.py`` runs end to end on a small file (a smoke run; no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "ingest.py"


def test_ingest_benchmark_smoke_run_reports_every_contender_and_one_hash() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "3000"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "KEEL_HOME"},
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for label in (
        "pandas read_csv + to_parquet",
        "keel register (all stages)",
        "keel ingest only (CSV->Parquet)",
        "keel ingest only, DuckDB reader",
        "keel profile only (from the file)",
        "ref: DuckDB parse only, no output",
    ):
        assert any(row.startswith("|") and label in row for row in out.stdout.splitlines()), label
    assert "identical for register, and ingest with pyarrow's and DuckDB's reader" in out.stdout
    assert "speed-up of keel register over pandas" in out.stdout
