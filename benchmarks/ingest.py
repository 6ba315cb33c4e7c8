"""Ingest benchmark: keel.datasets.register vs. plain pandas (read_csv + to_parquet).

Generates a CSV of ``--rows`` rows (default 5,000,000) and 10 columns (integers,
floats with nulls, categories, free text, e-mails, timestamps, booleans) with DuckDB,
then runs each contender in a fresh subprocess (rounds interleaved, so machine load
hits all alike) and prints its wall time, CPU time (all threads) and peak resident
memory (the child's own ``ru_maxrss``):

* pandas: ``pd.read_csv(path).to_parquet(out)``, the plain path;
* keel register: the whole ``keel.datasets.register(path, name)`` in a fresh process
  (imports included): CSV -> Parquet (pyarrow's reader, typed by DuckDB's sniffer),
  profile (its first pass over the batches as they are written), sha256 (while
  writing), artifact store, metadata row, lineage. The keel home is new for every run
  (so no run is a dedup hit) but its database is created before the clock starts, as
  it is for every registration but a home's very first (that one-off cost is printed
  separately);
* keel ingest only: the CSV -> Parquet stage alone (with its hash), and again forced
  onto DuckDB's reader (keel's engine before issue 9, and still its fallback);
* keel profile only: the whole profile computed from the finished Parquet file;
* references: pyarrow's streaming CSV reader parsing into nothing, DuckDB parsing the
  CSV in parallel into nothing, DuckDB's parallel ``COPY ... TO parquet``, and Polars'
  ``scan_csv(...).sink_parquet(...)`` (where polars is installed).

Goals (issue 9): keel register >= 1.5x pandas' speed and <= 1/3 of its peak memory.

    python benchmarks/ingest.py                # 5M rows
    python benchmarks/ingest.py --repeat 3     # 3 interleaved rounds; fastest and median
    python benchmarks/ingest.py --rows 200000  # quick run
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
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
    elif mode in ("keel-ingest", "keel-ingest-duckdb"):
        from keel.data._ingest import ingest

        engine = "duckdb" if mode == "keel-ingest-duckdb" else "auto"
        out = work_dir / f"{mode}.parquet"
        result = ingest(csv_path, out, engine=engine)
        extra = {"rows": result.num_rows, "sha256": result.sha256[:12], "engine": result.engine}
    elif mode == "pyarrow-parse":  # keel's reader and options, parsing into nothing
        from keel.data._csv_plan import arrow_csv_reader, plan_csv
        from keel.data._duckdb import connect_duckdb
        from keel.data._sources import check_not_empty, file_source

        src = file_source(csv_path, None)
        con = connect_duckdb(work_dir)
        plan = plan_csv(con, src, check_not_empty(src), None)
        con.close()
        rows = sum(batch.num_rows for batch in arrow_csv_reader(src, plan))
        extra = {"rows": rows}
    elif mode == "polars-sink":
        import polars as pl

        pl.scan_csv(csv_path).sink_parquet(work_dir / "polars.parquet", compression="snappy")
    elif mode == "keel-profile":
        from keel.data._ingest import connect_duckdb
        from keel.data._profile import profile_parquet, schema_of

        path = work_dir / "keel-ingest.parquet"
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

    modes = [
        "pandas",
        "keel",
        "keel-ingest",
        "keel-ingest-duckdb",
        "keel-profile",
        "pyarrow-parse",
        "duckdb-parse",
        "duckdb-copy",
    ]
    if importlib.util.find_spec("polars") is not None:
        modes.append("polars-sink")
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
                    f"  round {i + 1} {mode:<18} {r['seconds']:6.2f}s wall "
                    f"{r['cpu_seconds']:6.2f}s CPU  peak RSS {r['peak_rss_mb']:5.0f} MB  "
                    f"(load {_load()})",
                    flush=True,
                )
        shutil.rmtree(work / "keel-home", ignore_errors=True)
        first = _run_child("keel-first", csv_path, work)  # creates the database too
    results = {m: min(rs, key=lambda r: r["seconds"]) for m, rs in runs.items()}
    medians = {m: statistics.median(r["seconds"] for r in rs) for m, rs in runs.items()}
    labels = {
        "pandas": "pandas read_csv + to_parquet",
        "keel": "keel register (all stages)",
        "keel-ingest": "  keel ingest only (CSV->Parquet)",
        "keel-ingest-duckdb": "  keel ingest only, DuckDB reader",
        "keel-profile": "  keel profile only (from the file)",
        "pyarrow-parse": "ref: pyarrow parse only, no output",
        "duckdb-parse": "ref: DuckDB parse only, no output",
        "duckdb-copy": "ref: DuckDB COPY CSV->Parquet",
        "polars-sink": "ref: Polars scan_csv -> sink_parquet",
    }
    print()
    print(
        f"| {'contender':<37} | {'wall s':>6} | {'median':>6} | {'CPU s':>6} | {'peak RSS MB':>11} |"
    )
    print(f"|{'-' * 39}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 13}|")
    for mode in modes:
        r = results[mode]
        print(
            f"| {labels[mode]:<37} | {r['seconds']:6.2f} | {medians[mode]:6.2f} | "
            f"{r['cpu_seconds']:6.2f} | {r['peak_rss_mb']:11.0f} |"
        )
    print(
        f"\nkeel register on a brand-new home (database created too): {first['seconds']:.2f}s "
        f"wall, {first['cpu_seconds']:.2f}s CPU"
    )
    pandas, keel_full = results["pandas"], results["keel"]
    speed = pandas["seconds"] / keel_full["seconds"]
    per_round = [
        p["seconds"] / k["seconds"] for p, k in zip(runs["pandas"], runs["keel"], strict=True)
    ]
    memory = keel_full["peak_rss_mb"] / pandas["peak_rss_mb"]
    print(
        f"speed-up of keel register over pandas: {speed:.2f}x fastest vs fastest, "
        f"{statistics.median(per_round):.2f}x median of rounds "
        f"({', '.join(f'{s:.2f}' for s in per_round)}) (goal >= 1.5x: "
        f"{'met' if speed >= 1.5 else 'NOT met'})"
    )
    print(
        f"keel peak memory / pandas peak memory: {memory:.2f} (goal <= 0.33: "
        f"{'met' if memory <= 1 / 3 else 'NOT met'})"
    )
    engine = results["keel-ingest-duckdb"]["seconds"] / results["keel-ingest"]["seconds"]
    print(f"ingest, DuckDB reader / pyarrow reader: {engine:.2f}x")
    hashes = {results[m]["sha256"] for m in ("keel", "keel-ingest", "keel-ingest-duckdb")}
    print(
        f"content hash: {', '.join(sorted(hashes))} "
        f"({'identical' if len(hashes) == 1 else 'DIFFERENT'} for register, and ingest with "
        "pyarrow's and DuckDB's reader)"
    )
    print(f"load average at the end: {_load()}")


def _load() -> str:
    return (
        " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if Path("/proc/loadavg").exists()
        else "?"
    )


if __name__ == "__main__":
    main()
