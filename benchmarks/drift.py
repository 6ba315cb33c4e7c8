"""Drift benchmark: keel.monitoring.drift vs Evidently's DataDriftPreset and a numpy floor.

Generates two Parquet files per size (reference and current, 20 float64 columns; in
the current one 6 columns are shifted, 2 only slightly), then runs each contender in a
fresh subprocess, rounds interleaved, and reports the median wall time of the work (the
clock starts after the imports and stops when every column has its result) and the
child's peak resident memory (its ``VmHWM``, imports included):

* keel: ``keel.monitoring.drift(ref.parquet, cur.parquet)`` (reads column by column);
* Evidently: ``pd.read_parquet`` of both files, then ``Report([DataDriftPreset()]).run``;
* numpy floor: the same column reads, both columns sorted, KS (statistic and
  asymptotic p-value) and PSI (Sturges bins) from the sorted arrays: the least work a
  drift test of this data needs;
* keel from a stored sketch: ``drift(ReferenceSketch.from_bytes(...), cur.parquet)``,
  the monitoring path (the reference is never read again); the sketch's build is
  measured once per size.

It prints the largest per-column difference between keel's and Evidently's drift
scores, and between the sketch and the exact comparison.

Goals (issue 12): at 1M rows keel >= 20x faster than Evidently, within 1.5x of the
floor, <= half Evidently's peak memory; 10M rows (keel alone) under 2 GB.

    python benchmarks/drift.py                     # 100k and 1M rows, 3 rounds, and 10M for keel
    python benchmarks/drift.py --rows 100000 --repeat 1 --big 0
    python benchmarks/drift.py --quick --keel-only # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLUMNS = 20
# (mean shift in reference std, scale factor) per shifted column; the rest are unchanged
SHIFTS = {
    0: (0.5, 1.0),
    1: (0.3, 1.0),
    2: (0.0, 1.5),
    3: (0.2, 1.2),
    4: (0.05, 1.0),
    5: (0.02, 1.0),
}
ROUND_ROWS = 1 << 20


# -- data --------------------------------------------------------------------------------


def _column(rng: Any, j: int, n: int, current: bool) -> Any:
    shift, scale = SHIFTS.get(j, (0.0, 1.0)) if current else (0.0, 1.0)
    kind = j % 4
    if kind == 0:
        return rng.normal(10 * j + shift, scale, n)
    if kind == 1:
        return rng.lognormal(0.5 + shift, 0.6 * scale, n)
    if kind == 2:
        return rng.uniform(0 + shift, 100 * scale, n)
    return rng.gamma(2.0 + shift, 3.0 * scale, n)


def generate(path: Path, rows: int, current: bool, seed: int) -> None:
    """Write ``rows`` rows of the benchmark table in row groups of 2**20 (bounded memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = [f"col_{j:02d}" for j in range(COLUMNS)]
    schema = pa.schema([(n, pa.float64()) for n in names])
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for start in range(0, rows, ROUND_ROWS):
            n = min(ROUND_ROWS, rows - start)
            arrays = [pa.array(_column(rng, j, n, current)) for j in range(COLUMNS)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


# -- workers (each in a fresh process) ---------------------------------------------------


def _worker_keel(ref: str, cur: str, sketch: str | None) -> dict[str, Any]:
    from keel.monitoring import ReferenceSketch, drift

    start = time.perf_counter()
    reference: Any = ref
    if sketch is not None:
        reference = ReferenceSketch.from_bytes(Path(sketch).read_bytes())
    report = drift(reference, cur)
    seconds = time.perf_counter() - start
    scores = {c.column: [c.test, c.score] for c in report.columns}
    return {"seconds": seconds, "scores": scores, "drifted": list(report.drifted_columns)}


def _worker_sketch(ref: str, out: str) -> dict[str, Any]:
    from keel.monitoring import ReferenceSketch

    start = time.perf_counter()
    data = ReferenceSketch.from_table(ref).to_bytes()
    Path(out).write_bytes(data)
    return {"seconds": time.perf_counter() - start, "bytes": len(data)}


def _worker_evidently(ref: str, cur: str) -> dict[str, Any]:
    import warnings

    import numpy as np
    import pandas as pd
    import pandas.core.dtypes.common as common

    # evidently 0.7.23 imports a helper that pandas 3 removed, in a module drift never
    # uses; give it back so the package imports (docs/decisions.md, issue 12)
    if not hasattr(common, "infer_dtype_from_object"):
        common.infer_dtype_from_object = lambda dtype: np.dtype(dtype).type
    warnings.simplefilter("ignore")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    data = snapshot.dict()
    seconds = time.perf_counter() - start
    method = {"Wasserstein distance (normed)": "wasserstein", "K-S p_value": "ks"}
    scores = {}
    for metric in data["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = [
                method.get(config["method"], config["method"]),
                float(metric["value"]),
            ]
    return {"seconds": seconds, "scores": scores}


def _worker_floor(ref: str, cur: str) -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq
    from scipy import special

    start = time.perf_counter()
    rf, cf = pq.ParquetFile(ref), pq.ParquetFile(cur)
    scores = {}
    for name in rf.schema_arrow.names:
        r = np.sort(rf.read(columns=[name]).column(0).to_numpy())
        c = np.sort(cf.read(columns=[name]).column(0).to_numpy())
        n, m = r.shape[0], c.shape[0]
        # KS: both empirical CDFs at every value of either sample
        d = max(
            float(np.abs(np.searchsorted(r, c, "right") / n - np.arange(1, m + 1) / m).max()),
            float(np.abs(np.arange(1, n + 1) / n - np.searchsorted(c, r, "right") / m).max()),
        )
        p = float(special.kolmogorov(np.sqrt(n * m / (n + m)) * d))
        # PSI on Sturges bins over both samples, counted from the sorted arrays
        lo, hi = min(r[0], c[0]), max(r[-1], c[-1])
        edges = np.linspace(lo, hi, int(np.ceil(np.log2(n + m) + 1)) + 1)
        rp = np.diff(np.searchsorted(r, edges, "right")) / n + 1e-6
        cp = np.diff(np.searchsorted(c, edges, "right")) / m + 1e-6
        psi = float(np.sum((rp - cp) * np.log(rp / cp)))
        scores[name] = ["ks+psi", d, p, psi]
    return {"seconds": time.perf_counter() - start, "scores": scores}


def _warm_up() -> None:
    """Import what every contender uses before its clock starts (pyarrow pulls in pandas)."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    from scipy import special  # noqa: F401

    import keel.monitoring._drift  # noqa: F401


def worker(args: argparse.Namespace) -> None:
    _warm_up()
    if args.worker == "keel":
        result = _worker_keel(args.ref, args.cur, None)
    elif args.worker == "keel-sketch":
        result = _worker_keel(args.ref, args.cur, args.sketch)
    elif args.worker == "sketch-build":
        result = _worker_sketch(args.ref, args.sketch)
    elif args.worker == "evidently":
        result = _worker_evidently(args.ref, args.cur)
    else:
        result = _worker_floor(args.ref, args.cur)
    result["rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), imports included.

    Read in the worker itself: a child's ``ru_maxrss`` also counts the parent's memory
    at fork time (it survives exec), which would charge the data generator to everyone.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- driver ------------------------------------------------------------------------------


def run_worker(name: str, ref: Path, cur: Path, sketch: Path, tmp: Path) -> dict[str, Any]:
    """One contender in a fresh process: its result, wall time and peak RSS (MB)."""
    out = tmp / f"{name}.out"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--ref",
        str(ref),
        "--cur",
        str(cur),
        "--sketch",
        str(sketch),
    ]
    start = time.perf_counter()
    with out.open("w") as fh, (tmp / f"{name}.err").open("w") as err:
        code = subprocess.run(cmd, stdout=fh, stderr=err, env=env, check=False).returncode
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{name} failed:\n{(tmp / f'{name}.err').read_text()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text().strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _max_diff(a: dict[str, Any], b: dict[str, Any]) -> float:
    return max(abs(a[c][1] - b[c][1]) for c in a)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--big", type=int, default=10_000_000, help="size for keel alone (0: skip)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keel-only", action="store_true", help="skip Evidently")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, one round, no big run")
    parser.add_argument("--json", help="also write every raw result here")
    parser.add_argument("--tmp", help="folder for the generated files (default: a temporary one)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--ref", help=argparse.SUPPRESS)
    parser.add_argument("--cur", help=argparse.SUPPRESS)
    parser.add_argument("--sketch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    sizes = [int(s) for s in args.rows.split(",") if s]
    repeat, big = args.repeat, args.big
    if args.quick:
        sizes, repeat, big = [20_000], 1, 0
    tools = ["keel", "floor", "keel-sketch"] + ([] if args.keel_only else ["evidently"])
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        tmp = Path(folder)
        results: dict[str, Any] = {}
        files: dict[int, tuple[Path, Path, Path]] = {}
        for rows in [*sizes, *([big] if big else [])]:
            ref, cur, sketch = (
                tmp / f"ref-{rows}.parquet",
                tmp / f"cur-{rows}.parquet",
                tmp / f"ref-{rows}.keelsketch",
            )
            t = time.perf_counter()
            generate(ref, rows, False, 1)
            generate(cur, rows, True, 2)
            print(
                f"generated {rows:,} rows x {COLUMNS} columns in {time.perf_counter() - t:.1f}s",
                flush=True,
            )
            build = run_worker("sketch-build", ref, cur, sketch, tmp)
            results[f"{rows}/sketch-build"] = [build]
            files[rows] = (ref, cur, sketch)
        for round_ in range(repeat):
            for rows in sizes:
                for tool in tools:
                    r = run_worker(tool, *files[rows], tmp)
                    results.setdefault(f"{rows}/{tool}", []).append(r)
                    print(
                        f"round {round_ + 1} {rows:>10,} {tool:<12} {r['seconds']:8.2f}s {r['rss_mb']:8.0f} MB",
                        flush=True,
                    )
        if big:
            for tool in ("keel", "keel-sketch"):
                r = run_worker(tool, *files[big], tmp)
                results.setdefault(f"{big}/{tool}", []).append(r)
                print(
                    f"once    {big:>10,} {tool:<12} {r['seconds']:8.2f}s {r['rss_mb']:8.0f} MB",
                    flush=True,
                )
    report(results, sizes, big, tools)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def report(results: dict[str, Any], sizes: list[int], big: int, tools: list[str]) -> None:
    print()
    print(
        "| rows | contender | time (s, median) | peak RSS (MB) | Evidently / this (time) | this / floor (time) | this / Evidently (memory) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    names = {
        "keel": "keel",
        "keel-sketch": "keel, reference sketch",
        "floor": "numpy floor (KS+PSI)",
        "evidently": "Evidently DataDriftPreset",
    }
    for rows in [*sizes, *([big] if big else [])]:
        ev = results.get(f"{rows}/evidently")
        fl = results.get(f"{rows}/floor")
        for tool in tools:
            runs = results.get(f"{rows}/{tool}")
            if not runs:
                continue
            t, mem = _median(runs, "seconds"), _median(runs, "rss_mb")
            vs_ev = f"{_median(ev, 'seconds') / t:.1f}x" if ev and tool != "evidently" else ""
            vs_fl = f"{t / _median(fl, 'seconds'):.2f}" if fl and tool != "floor" else ""
            mem_ev = f"{mem / _median(ev, 'rss_mb'):.2f}" if ev and tool != "evidently" else ""
            print(
                f"| {rows:,} | {names[tool]} | {t:.2f} | {mem:.0f} | {vs_ev} | {vs_fl} | {mem_ev} |"
            )
        build = results[f"{rows}/sketch-build"][0]
        print(
            f"| {rows:,} | (sketch build, once) | {build['seconds']:.2f} | {build['rss_mb']:.0f} | | | |"
        )
    print()
    for rows in [*sizes, *([big] if big else [])]:
        keel = results.get(f"{rows}/keel")
        if not keel:
            continue
        k = keel[0]["scores"]
        ev = results.get(f"{rows}/evidently")
        line = f"{rows:,} rows: keel drifted {keel[0]['drifted']}"
        if ev:
            e = ev[0]["scores"]
            same = all(k[c][0] == e[c][0] for c in k)
            line += f"; max |keel - Evidently| per-column score = {_max_diff(k, e):.2e} (same tests: {same})"
        sk = results.get(f"{rows}/keel-sketch")
        if sk:
            line += f"; max |sketch - exact| = {_max_diff(sk[0]['scores'], k):.2e}"
        build = results[f"{rows}/sketch-build"][0]
        line += f"; sketch {build['bytes'] / 1024:.0f} KiB"
        print(line)


if __name__ == "__main__":
    main()
