"""Ingest benchmark: keel.datasets.register vs. plain pandas (read_csv + to_parquet).

Generates a CSV of ``--rows`` rows (default 5,000,000) and 10 columns (integers,
floats with nulls, categories, free text, e-mails, timestamps, booleans) with DuckDB,
then runs each contender in a fresh subprocess and prints its wall time and peak
resident memory (the child's own ``ru_maxrss``):

* pandas: ``pd.read_csv(path).to_parquet(out)``, the plain path;
* keel register: the whole ``keel.datasets.register(path, name)``: DuckDB-streamed
  CSV -> Parquet, profile, sha256, artifact store, metadata row, lineage;
* keel ingest only: just the CSV -> Parquet stage of it;
* keel profile only: just the profile of the normalised Parquet file.

Goals (issue 3): keel >= 3x faster than pandas and <= 1/3 of its peak memory;
profiling no slower than ingesting.

    python benchmarks/ingest.py                # 5M rows
    python benchmarks/ingest.py --rows 200000  # quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate_csv(path: Path, rows: int) -> float:
    """Write the benchmark CSV with DuckDB; returns seconds taken."""
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT
                i AS id,
                round(random() * 1000, 2) AS amount,
                (random() * 100)::INTEGER AS quantity,
                CASE WHEN random() < 0.05 THEN NULL ELSE round(random(), 4) END AS score,
                ['red', 'green', 'blue', 'yellow', 'black'][1 + (i % 5)::INTEGER] AS color,
                'region_' || (hash(i) % 40)::VARCHAR AS region,
                'item ' || md5(i::VARCHAR)[:(8 + i % 24)::INTEGER] || ' note' AS description,
                'user' || (i % 100000)::VARCHAR || '@example.com' AS email,
                TIMESTAMP '2020-01-01' + to_seconds(i * 7) AS created_at,
                (i % 3 = 0) AS active
            FROM range({int(rows)}) t(i)
        ) TO '{path}' (FORMAT csv, HEADER)
        """
    )
    con.close()
    return time.perf_counter() - start


# -- children: each runs one contender and prints {"seconds": ..., "peak_rss_mb": ...} -----


def _child(mode: str, csv_path: str, work: str) -> None:
    work_dir = Path(work)
    start = time.perf_counter()
    extra: dict[str, object] = {}
    if mode == "pandas":
        import pandas as pd

        pd.read_csv(csv_path).to_parquet(work_dir / "pandas.parquet")
    elif mode == "keel":
        os.environ["KEEL_HOME"] = str(work_dir / "keel-home")
        import keel

        v = keel.datasets.register(csv_path, "bench")
        extra = {"rows": v.num_rows, "sha256": v.content_hash[:12]}
    elif mode == "keel-ingest":
        from keel.data._ingest import ingest

        result = ingest(csv_path, work_dir / "ingest.parquet")
        extra = {"rows": result.num_rows}
    elif mode == "keel-profile":
        from keel.data._ingest import connect_duckdb
        from keel.data._profile import profile_parquet, schema_of

        path = work_dir / "ingest.parquet"
        start = time.perf_counter()  # the file exists from the ingest-only run
        con = connect_duckdb(work_dir)
        profile_parquet(con, path, schema_of(path))
        con.close()
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, **extra}))


def _run_child(mode: str, csv_path: Path, work: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("KEEL_HOME", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(csv_path), str(work)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows in the generated CSV")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per contender; the fastest counts"
    )
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CSV", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    with tempfile.TemporaryDirectory(prefix="keel-bench-ingest-") as tmp:
        work = Path(tmp)
        csv_path = work / "data.csv"
        gen = generate_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows x 10 columns, {size_mb:,.0f} MB CSV in {gen:.1f}s; "
            f"{os.cpu_count()} CPUs"
        )
        results: dict[str, dict[str, float]] = {}
        for mode in ("pandas", "keel", "keel-ingest", "keel-profile"):
            best: dict[str, float] | None = None
            for i in range(args.repeat):
                if mode == "keel":
                    # a fresh keel home each time, so no run is a dedup hit
                    shutil.rmtree(work / "keel-home", ignore_errors=True)
                r = _run_child(mode, csv_path, work)
                if best is None or r["seconds"] < best["seconds"]:
                    best = r
                print(
                    f"  {mode:<13} run {i + 1}: {r['seconds']:6.2f}s  peak RSS {r['peak_rss_mb']:7.0f} MB",
                    flush=True,
                )
            assert best is not None
            results[mode] = best

    pandas, keel_full = results["pandas"], results["keel"]
    ingest, profile = results["keel-ingest"], results["keel-profile"]
    rows = [
        ("pandas read_csv + to_parquet", pandas),
        ("keel register (all stages)", keel_full),
        ("keel ingest only (CSV->Parquet)", ingest),
        ("keel profile only", profile),
    ]
    print()
    print(f"| {'contender':<32} | {'wall s':>7} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 34}|{'-' * 9}|{'-' * 13}|")
    for label, r in rows:
        print(f"| {label:<32} | {r['seconds']:7.2f} | {r['peak_rss_mb']:11.0f} |")
    speed = pandas["seconds"] / keel_full["seconds"]
    memory = keel_full["peak_rss_mb"] / pandas["peak_rss_mb"]
    prof = profile["seconds"] / ingest["seconds"]
    print()
    print(
        f"speed-up of keel register over pandas: {speed:.2f}x (goal >= 3x: "
        f"{'met' if speed >= 3 else 'NOT met'})"
    )
    print(
        f"keel peak memory / pandas peak memory: {memory:.2f} (goal <= 0.33: "
        f"{'met' if memory <= 1 / 3 else 'NOT met'})"
    )
    print(
        f"profile time / ingest time: {prof:.2f} (goal <= 1: {'met' if prof <= 1 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
