"""Tracking benchmark: keel vs MLflow on SQLite, side by side (issue 2, section 6).

Run it with ``make bench`` or::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/tracking.py [--quick] [--keel-only]
        [--repeat K] [--json PATH]

Every measurement runs in a fresh subprocess of this script (``--worker NAME``) with its
own temporary folder, so neither side pays for the other's imports, caches or files.
Imports, opening the store and creating the experiment happen before the clock starts;
each clock stops only once every value is in the database file (the run has ended and
every queue is flushed), and each worker then counts the stored rows with plain
``sqlite3`` and fails unless every value is there.

Operations (counts in parentheses are the defaults; ``--quick`` shrinks them):

a. ``log_metric`` called once per value (10,000) in one run: keel's fluent API; MLflow's
   fluent API synchronously, and again with ``mlflow.config.enable_async_logging()``.
b. MLflow's fastest path, ``MlflowClient.log_batch`` (batches of 1,000), per value,
   against keel's per-call ``log_metric`` of (a).
c. Runs (500), each: start, log 5 params, log 5 metrics, end.
d. A metric-filtered, metric-ordered search over those runs (repeated 20 times),
   returning a pandas DataFrame on both sides.

keel runs twice: with its defaults (SQLite WAL, ``synchronous=NORMAL``) and with
``KEEL_SQLITE_SYNCHRONOUS=FULL``, the durability MLflow's SQLite store has by default
(rollback journal, ``synchronous=FULL``); see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()

FULL_COUNTS = {"metrics": 10_000, "batch": 1_000, "runs": 500, "searches": 20}
QUICK_COUNTS = {"metrics": 300, "batch": 100, "runs": 20, "searches": 3}

FILTER_KEEL = "metrics.m0 > 0.5"
FILTER_MLFLOW = "metrics.m0 > 0.5"
ORDER_BY = ["metrics.m1 DESC"]
SEED = 20240601

# goals from issue 2, section 6: speed-up of keel over MLflow (MLflow time / keel time)
GOALS = {"log_metric": 100.0, "log_batch": 5.0, "runs": 10.0, "search": 5.0}


# --------------------------------------------------------------------------------------
# workers: each runs in its own process, prints one JSON line, and exits
# --------------------------------------------------------------------------------------


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _run_values(n_runs: int) -> list[tuple[dict[str, str], dict[str, float]]]:
    """The params and metrics of each benchmark run (same on both sides)."""
    rng = random.Random(SEED)
    out = []
    for i in range(n_runs):
        params = {f"p{j}": f"value-{i}-{j}" for j in range(5)}
        metrics = {f"m{j}": rng.random() for j in range(5)}
        out.append((params, metrics))
    return out


def _keel_db(tmp: Path) -> Path:
    return tmp / "keel" / "keel.db"


def _keel_client() -> Any:
    import keel
    from keel.tracking import get_client

    client = get_client()
    client.store  # noqa: B018 - open the store and apply migrations before the clock
    return keel, client


def worker_keel_log_metric(tmp: Path, n: int) -> dict[str, Any]:
    keel, _client = _keel_client()
    with keel.start_run(experiment="warmup"):  # first run pays one-off costs (git, imports)
        keel.log_metric("warm", 1.0)
    run = keel.start_run(experiment="bench")
    t0 = time.perf_counter()
    with run:
        for i in range(n):
            keel.log_metric("loss", i * 0.001, step=i)
    seconds = time.perf_counter() - t0
    stored = _count(_keel_db(tmp), f"SELECT count(*) FROM metrics WHERE run_id = '{run.id}'")
    return {"seconds": seconds, "values": n, "stored": stored}


def worker_keel_runs(tmp: Path, n_runs: int, n_searches: int) -> dict[str, Any]:
    keel, _client = _keel_client()
    with keel.start_run(experiment="warmup"):
        keel.log_metric("warm", 1.0)
    values = _run_values(n_runs)
    t0 = time.perf_counter()
    for i, (params, metrics) in enumerate(values):
        with keel.start_run(experiment="bench-runs", run_name=f"run-{i}"):
            keel.log_params(params)
            keel.log_metrics(metrics)
    run_seconds = time.perf_counter() - t0
    db = _keel_db(tmp)
    stored = {
        "runs": _count(
            db,
            "SELECT count(*) FROM runs r JOIN experiments e "
            "ON r.experiment_id = e.id WHERE e.name = 'bench-runs' "
            "AND r.status = 'FINISHED'",
        ),
        "params": _count(db, "SELECT count(*) FROM run_params WHERE key LIKE 'p%'"),
        "metrics": _count(db, "SELECT count(*) FROM metrics WHERE key LIKE 'm%'"),
    }
    expected_hits = sum(1 for _, m in values if m["m0"] > 0.5)
    times, hits = [], -1
    for _ in range(n_searches):
        t = time.perf_counter()
        frame = keel.search_runs(
            "bench-runs", filter=FILTER_KEEL, order_by=ORDER_BY, max_results=1000
        )
        times.append(time.perf_counter() - t)
        hits = len(frame)
        m1 = list(frame["metrics.m1"])
        if m1 != sorted(m1, reverse=True):
            raise SystemExit("keel search returned runs out of order")
    return {
        "run_seconds": run_seconds,
        "runs": n_runs,
        "stored": stored,
        "search_seconds": times,
        "hits": hits,
        "expected_hits": expected_hits,
    }


def _mlflow_setup(tmp: Path, name: str = "bench") -> tuple[Any, str, Path]:
    import mlflow

    db = tmp / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    artifacts = (tmp / "mlartifacts").resolve().as_uri()
    warmup = mlflow.create_experiment("warmup", artifact_location=artifacts)  # makes the schema
    exp_id = mlflow.create_experiment(name, artifact_location=artifacts)
    mlflow.set_experiment(experiment_id=exp_id)
    # The first run pays one-off costs (git lookups, lazy imports) on each side.
    with mlflow.start_run(experiment_id=warmup, run_name="warmup"):
        mlflow.log_metric("warm", 1.0)
    return mlflow, exp_id, db


def worker_mlflow_log_metric(tmp: Path, n: int, asynchronous: bool) -> dict[str, Any]:
    mlflow, exp_id, db = _mlflow_setup(tmp)
    if asynchronous:
        mlflow.config.enable_async_logging(True)
    run = mlflow.start_run(experiment_id=exp_id)
    run_id = run.info.run_id
    t0 = time.perf_counter()
    with run:
        for i in range(n):
            mlflow.log_metric("loss", i * 0.001, step=i)
    mlflow.flush_async_logging()  # no-op when synchronous; async: wait for the queue
    seconds = time.perf_counter() - t0
    stored = _count(
        db, f"SELECT count(*) FROM metrics WHERE run_uuid = '{run_id}' AND key = 'loss'"
    )
    return {"seconds": seconds, "values": n, "stored": stored}


def worker_mlflow_log_batch(tmp: Path, n: int, batch: int) -> dict[str, Any]:
    _mlflow, exp_id, db = _mlflow_setup(tmp)
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    run_id = client.create_run(exp_id).info.run_id
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        ts = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric("loss", i * 0.001, ts, i) for i in range(start, min(n, start + batch))],
        )
    client.set_terminated(run_id)
    seconds = time.perf_counter() - t0
    stored = _count(
        db, f"SELECT count(*) FROM metrics WHERE run_uuid = '{run_id}' AND key = 'loss'"
    )
    return {"seconds": seconds, "values": n, "stored": stored}


def worker_mlflow_runs(tmp: Path, n_runs: int, n_searches: int) -> dict[str, Any]:
    mlflow, exp_id, db = _mlflow_setup(tmp, "bench-runs")
    values = _run_values(n_runs)
    t0 = time.perf_counter()
    for i, (params, metrics) in enumerate(values):
        with mlflow.start_run(run_name=f"run-{i}"):
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
    run_seconds = time.perf_counter() - t0
    stored = {
        "runs": _count(
            db,
            f"SELECT count(*) FROM runs WHERE experiment_id = {int(exp_id)} "
            "AND status = 'FINISHED'",
        ),
        "params": _count(db, "SELECT count(*) FROM params WHERE key LIKE 'p%'"),
        "metrics": _count(db, "SELECT count(*) FROM metrics WHERE key LIKE 'm%'"),
    }
    expected_hits = sum(1 for _, m in values if m["m0"] > 0.5)
    times, hits = [], -1
    for _ in range(n_searches):
        t = time.perf_counter()
        frame = mlflow.search_runs(
            experiment_ids=[exp_id],
            filter_string=FILTER_MLFLOW,
            order_by=ORDER_BY,
            max_results=1000,
        )
        times.append(time.perf_counter() - t)
        hits = len(frame)
        m1 = list(frame["metrics.m1"])
        if m1 != sorted(m1, reverse=True):
            raise SystemExit("MLflow search returned runs out of order")
    return {
        "run_seconds": run_seconds,
        "runs": n_runs,
        "stored": stored,
        "search_seconds": times,
        "hits": hits,
        "expected_hits": expected_hits,
    }


WORKERS = {
    "keel_log_metric": worker_keel_log_metric,
    "keel_runs": worker_keel_runs,
    "mlflow_log_metric": worker_mlflow_log_metric,
    "mlflow_log_batch": worker_mlflow_log_batch,
    "mlflow_runs": worker_mlflow_runs,
}


def _worker_main(name: str, kwargs_json: str) -> None:
    kwargs = json.loads(kwargs_json)
    tmp = Path.cwd()
    result = WORKERS[name](tmp, **kwargs)
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------------------
# the orchestrator
# --------------------------------------------------------------------------------------


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    # No KEEL_* or MLFLOW_* from the caller's shell: both sides run on their defaults
    # (plus what we set), so results do not depend on who runs the benchmark.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "MLFLOW_"))}
    env.update(
        {
            "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONHASHSEED": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    env.update(extra)
    return env


def run_worker(
    name: str,
    kwargs: dict[str, Any],
    extra_env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run one worker in a fresh process inside a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix=f"keel-bench-{name}-") as tmp:
        env = _clean_env({"KEEL_HOME": str(Path(tmp) / "keel"), **(extra_env or {})})
        proc = subprocess.run(
            [sys.executable, str(HERE), "--worker", name, "--kwargs", json.dumps(kwargs)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(
            f"benchmark worker {name} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def _check_metrics(label: str, res: dict[str, Any]) -> None:
    if res["stored"] != res["values"]:
        raise SystemExit(f"{label}: {res['stored']} of {res['values']} values stored")


def _check_runs(label: str, res: dict[str, Any]) -> None:
    n = res["runs"]
    want = {"runs": n, "params": 5 * n, "metrics": 5 * n}
    if res["stored"] != want:
        raise SystemExit(f"{label}: stored {res['stored']}, expected {want}")
    if res["hits"] != res["expected_hits"]:
        raise SystemExit(
            f"{label}: search found {res['hits']} runs, expected {res['expected_hits']}"
        )


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure(counts: dict[str, int], keel_only: bool, repeat: int, progress: Any) -> dict[str, Any]:
    """Run every worker ``repeat`` times; return median per-operation costs (seconds)."""
    n, batch, n_runs, n_search = (
        counts["metrics"],
        counts["batch"],
        counts["runs"],
        counts["searches"],
    )
    plan: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("keel", "keel_log_metric", {"n": n}, {}),
        ("keel_full", "keel_log_metric", {"n": n}, {"KEEL_SQLITE_SYNCHRONOUS": "FULL"}),
        ("keel", "keel_runs", {"n_runs": n_runs, "n_searches": n_search}, {}),
        (
            "keel_full",
            "keel_runs",
            {"n_runs": n_runs, "n_searches": n_search},
            {"KEEL_SQLITE_SYNCHRONOUS": "FULL"},
        ),
    ]
    if not keel_only:
        plan += [
            ("mlflow", "mlflow_log_metric", {"n": n, "asynchronous": False}, {}),
            ("mlflow_async", "mlflow_log_metric", {"n": n, "asynchronous": True}, {}),
            ("mlflow", "mlflow_log_batch", {"n": n, "batch": batch}, {}),
            ("mlflow", "mlflow_runs", {"n_runs": n_runs, "n_searches": n_search}, {}),
        ]
    costs: dict[str, dict[str, float]] = {}
    raw: list[dict[str, Any]] = []
    # Rounds: every measurement once per round, so a busy spell on the machine hits
    # both sides rather than all repeats of one.
    samples: dict[str, dict[str, list[float]]] = {}
    for k in range(repeat):
        for side, worker, kwargs, env in plan:
            progress(f"round {k + 1}/{repeat}: {side:<12} {worker:<18} ...")
            t = time.perf_counter()
            res = run_worker(worker, kwargs, env)
            label = f"{side}/{worker}"
            mine = samples.setdefault(side, {})
            if worker.endswith("_runs"):
                _check_runs(label, res)
                mine.setdefault("run", []).append(res["run_seconds"] / res["runs"])
                mine.setdefault("search", []).append(_median(res["search_seconds"]))
            else:
                _check_metrics(label, res)
                op = "batch_value" if worker == "mlflow_log_batch" else "metric_call"
                mine.setdefault(op, []).append(res["seconds"] / res["values"])
            raw.append(
                {
                    "side": side,
                    "worker": worker,
                    "round": k + 1,
                    "kwargs": kwargs,
                    "env": env,
                    "result": res,
                    "wall_s": time.perf_counter() - t,
                }
            )
    for side, ops in samples.items():
        for op, vals in ops.items():
            costs.setdefault(side, {})[op] = _median(vals)
    return {"costs": costs, "raw": raw}


def build_rows(costs: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """The table: one row per comparison, with speed-ups (MLflow time / keel time)."""
    keel, full = costs.get("keel", {}), costs.get("keel_full", {})
    ml, ml_async = costs.get("mlflow", {}), costs.get("mlflow_async", {})
    spec = [
        (
            "log_metric, per call (vs MLflow sync)",
            "metric_call",
            ml.get("metric_call"),
            GOALS["log_metric"],
        ),
        (
            "log_metric, per call (vs MLflow async)",
            "metric_call",
            ml_async.get("metric_call"),
            None,
        ),
        (
            "per value (vs MLflow log_batch)",
            "metric_call",
            ml.get("batch_value"),
            GOALS["log_batch"],
        ),
        ("run: start+5 params+5 metrics+end", "run", ml.get("run"), GOALS["runs"]),
        ("search (metric filter + order)", "search", ml.get("search"), GOALS["search"]),
    ]
    rows = []
    for name, op, mlflow_cost, goal in spec:
        k, kf = keel.get(op), full.get(op)
        ratio = mlflow_cost / k if mlflow_cost and k else None
        ratio_full = mlflow_cost / kf if mlflow_cost and kf else None
        # met: "yes" (at keel's default and at FULL), "default only", "NO", or None
        met = None
        if goal is not None and ratio is not None:
            met = "NO"
            if ratio >= goal:
                met = "yes" if ratio_full is None or ratio_full >= goal else "default only"
        rows.append(
            {
                "operation": name,
                "keel_s": k,
                "keel_full_s": kf,
                "mlflow_s": mlflow_cost,
                "ratio": ratio,
                "ratio_full": ratio_full,
                "goal": goal,
                "met": met,
            }
        )
    return rows


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:.4f} ms" if ms < 0.1 else f"{ms:.3f} ms" if ms < 10 else f"{ms:.1f} ms"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def format_table(rows: list[dict[str, Any]]) -> str:
    head = ["operation", "keel", "keel FULL", "MLflow", "ratio", "ratio FULL", "goal", "met?"]
    body = []
    for r in rows:
        met = r["met"] or "-"
        goal = "-" if r["goal"] is None else f">={r['goal']:.0f}x"
        body.append(
            [
                r["operation"],
                _ms(r["keel_s"]),
                _ms(r["keel_full_s"]),
                _ms(r["mlflow_s"]),
                _x(r["ratio"]),
                _x(r["ratio_full"]),
                goal,
                met,
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(b) for b in body)])


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }
    for pkg in ("keel", "mlflow", "sqlalchemy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--keel-only", action="store_true", help="skip MLflow")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each measurement K times in fresh processes; report medians",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--kwargs", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker_main(args.worker, args.kwargs)
        return 0
    if args.repeat < 1:
        parser.error(f"--repeat is {args.repeat}; give 1 or more")
    if not args.keel_only:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            parser.error("MLflow is not installed: pip install 'keel[bench]' (or pass --keel-only)")
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    counts = QUICK_COUNTS if args.quick else FULL_COUNTS
    versions = _versions()
    print(
        f"keel tracking benchmark  ({'quick' if args.quick else 'full'}; counts: "
        f"{counts['metrics']:,} log_metric calls, log_batch of {counts['batch']:,}, "
        f"{counts['runs']:,} runs, {counts['searches']} searches; repeat {args.repeat})"
    )
    print("  " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    started = time.perf_counter()
    result = measure(
        counts,
        args.keel_only,
        args.repeat,
        lambda msg: print(f"  {msg}", file=sys.stderr, flush=True),
    )
    rows = build_rows(result["costs"])
    print()
    print(format_table(rows))
    print()
    print(
        "Costs are per operation (per call, per value, per run or per search), medians of "
        f"{args.repeat} fresh process(es); ratio = MLflow / keel (x faster)."
    )
    print(
        "keel = WAL + synchronous=NORMAL (default); keel FULL = KEEL_SQLITE_SYNCHRONOUS=FULL; "
        "MLflow = SQLite rollback journal, synchronous=FULL (its default)."
    )
    print(
        "met? = yes: goal met at keel's default and at FULL; default only: met at keel's "
        "default (WAL+NORMAL), not at FULL."
    )
    print(
        f"Every value was counted in each database after its clock stopped. "
        f"Total {time.perf_counter() - started:.0f} s."
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "counts": counts,
                    "repeat": args.repeat,
                    "versions": versions,
                    "rows": rows,
                    "costs": result["costs"],
                    "raw": result["raw"],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
