"""Ingest benchmark: keel.datasets.register vs. plain pandas (read_csv + to_parquet).

Generates a CSV of ``--rows`` rows (default 5,000,000) and 10 columns (integers,
floats with nulls, categories, free text, e-mails, timestamps, booleans) with DuckDB,
then runs each contender in a fresh subprocess (rounds interleaved, so machine load
hits all alike) and prints its wall time, CPU time (all threads) and peak resident
memory (the child's own ``ru_maxrss``):

* pandas: ``pd.read_csv(path).to_parquet(out)``, the plain path;
* keel register: the whole ``keel.datasets.register(path, name)`` in a fresh process
  (imports included): DuckDB-parsed CSV -> Parquet, profile, sha256, artifact store,
  metadata row, lineage. The keel home is new for every run (so no run is a dedup
  hit) but its database is created before the clock starts, as it is for every
  registration but a home's very first (that one-off cost is printed separately);
* keel ingest only / keel profile only: those two stages of it alone;
* floors: DuckDB parsing the CSV in parallel into nothing (no output at all), and
  DuckDB's own parallel ``COPY ... TO parquet``: the least any CSV -> Parquet path
  built on DuckDB can cost here.

Goals (issue 3): keel >= 3x faster than pandas and <= 1/3 of its peak memory;
profiling no slower than ingesting.

    python benchmarks/ingest.py                # 5M rows
    python benchmarks/ingest.py --repeat 3     # 3 interleaved rounds, fastest counts
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
    con.execute("SET enable_progress_bar = false")
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


# -- children: each runs one contender and prints {"seconds": ..., "peak_rss_mb": ...} -----


def _child(mode: str, csv_path: str, work: str) -> None:
    work_dir = Path(work)
    start = time.perf_counter()
    cpu_start = _cpu()
    extra: dict[str, object] = {}
    if mode == "pandas":
        import pandas as pd

        pd.read_csv(csv_path).to_parquet(work_dir / "pandas.parquet")
    elif mode in ("keel", "keel-first"):
        os.environ["KEEL_HOME"] = str(work_dir / "keel-home")
        import keel

        v = keel.datasets.register(csv_path, "bench")
        extra = {"rows": v.num_rows, "sha256": v.content_hash[:12]}
    elif mode == "keel-init":  # untimed setup: a new keel home with its database
        os.environ["KEEL_HOME"] = str(work_dir / "keel-home")
        import keel

        keel.datasets.list()
    elif mode == "keel-ingest":
        from keel.data._ingest import ingest

        result = ingest(csv_path, work_dir / "ingest.parquet")
        extra = {"rows": result.num_rows}
    elif mode == "keel-profile":
        from keel.data._ingest import connect_duckdb
        from keel.data._profile import profile_parquet, schema_of

        path = work_dir / "ingest.parquet"
        start = time.perf_counter()  # the file exists from the ingest-only run
        cpu_start = _cpu()
        con = connect_duckdb(work_dir)
        profile_parquet(con, path, schema_of(path))
        con.close()
    elif mode in ("duckdb-parse", "duckdb-copy"):
        import duckdb

        con = duckdb.connect(config={"memory_limit": "1GB", "preserve_insertion_order": True})
        con.execute("SET enable_progress_bar = false")
        src = f"read_csv('{csv_path}', header=true, strict_mode=true)"
        if mode == "duckdb-parse":  # every column parsed and typed; only a min() kept
            cols = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
            con.execute(f"SELECT {', '.join(f'min({c!r})' for c in cols)} FROM {src}").fetchall()
        else:
            out = work_dir / "duckdb.parquet"
            con.execute(
                f"COPY (SELECT * FROM {src}) TO '{out}' "
                "(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 262144)"
            )
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime - cpu_start
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak, **extra}))


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
        "--repeat", type=int, default=1, help="interleaved rounds; each contender's fastest counts"
    )
    parser.add_argument("--csv", type=Path, help="use this CSV instead of generating one")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CSV", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    modes = ("pandas", "keel", "keel-ingest", "keel-profile", "duckdb-parse", "duckdb-copy")
    with tempfile.TemporaryDirectory(prefix="keel-bench-ingest-") as tmp:
        work = Path(tmp)
        csv_path = args.csv or work / "data.csv"
        if args.csv is None:
            gen = generate_csv(csv_path, args.rows)
            print(f"generated {args.rows:,} rows x 10 columns in {gen:.1f}s")
        size_mb = csv_path.stat().st_size / 1e6
        print(f"{size_mb:,.0f} MB CSV; {os.cpu_count()} CPUs; load average {_load()}")
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        for i in range(args.repeat):
            for mode in modes:
                if mode == "keel":
                    # a new keel home each time (no dedup hit), its database made untimed
                    shutil.rmtree(work / "keel-home", ignore_errors=True)
                    _run_child("keel-init", csv_path, work)
                r = _run_child(mode, csv_path, work)
                runs[mode].append(r)
                print(
                    f"  round {i + 1} {mode:<13} {r['seconds']:6.2f}s wall "
                    f"{r['cpu_seconds']:6.2f}s CPU  peak RSS {r['peak_rss_mb']:5.0f} MB  "
                    f"(load {_load()})",
                    flush=True,
                )
        shutil.rmtree(work / "keel-home", ignore_errors=True)
        first = _run_child("keel-first", csv_path, work)  # creates the database too
    results = {m: min(rs, key=lambda r: r["seconds"]) for m, rs in runs.items()}

    pandas, keel_full = results["pandas"], results["keel"]
    ingest, profile = results["keel-ingest"], results["keel-profile"]
    rows = [
        ("pandas read_csv + to_parquet", pandas),
        ("keel register (all stages)", keel_full),
        ("  keel ingest only (CSV->Parquet)", ingest),
        ("  keel profile only", profile),
        ("floor: DuckDB parse only, no output", results["duckdb-parse"]),
        ("floor: DuckDB COPY CSV->Parquet", results["duckdb-copy"]),
    ]
    print()
    print(f"| {'contender':<37} | {'wall s':>6} | {'CPU s':>6} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 39}|{'-' * 8}|{'-' * 8}|{'-' * 13}|")
    for label, r in rows:
        print(
            f"| {label:<37} | {r['seconds']:6.2f} | {r['cpu_seconds']:6.2f} | "
            f"{r['peak_rss_mb']:11.0f} |"
        )
    print(
        f"\nkeel register on a brand-new home (database created too): {first['seconds']:.2f}s "
        f"wall, {first['cpu_seconds']:.2f}s CPU"
    )
    speed = pandas["seconds"] / keel_full["seconds"]
    memory = keel_full["peak_rss_mb"] / pandas["peak_rss_mb"]
    prof = profile["seconds"] / ingest["seconds"]
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
    floor = pandas["seconds"] / results["duckdb-parse"]["seconds"]
    print(f"pandas / DuckDB's bare parse (the most any DuckDB-based path could gain): {floor:.2f}x")
    print(f"load average at the end: {_load()}")


def _load() -> str:
    return (
        " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if Path("/proc/loadavg").exists()
        else "?"
    )


if __name__ == "__main__":
    main()
