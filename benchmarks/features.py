"""Feature store benchmark: keel.features against Feast 0.67 and a pandas merge_asof floor.

One generated data set for everyone: two feature views (``stats_a``, TTL 30 days, and
``stats_b``, TTL 2 days; 5 float64 features each) over 100,000 drivers, 5,000,000
feature rows in all (two Parquet files), and entity-event frames of 100,000 and
1,000,000 rows (driver id, event time; 1% of the drivers have no features, and some
events come before a driver's first value or beyond a TTL: they must come back with
nulls, not be dropped).

Offline (training data as of each event, 10 features from 2 views), each contender in a
fresh process; the clock starts once the events are in memory as a DataFrame and stops
when the result is a DataFrame; memory is the process's own peak (``VmHWM``, imports
included):

* keel: ``keel.features.get_historical_features(events, refs)``;
* Feast: ``FeatureStore.get_historical_features(entity_df, refs).to_df()``, local
  provider, file offline store;
* floor: two ``pandas.merge_asof`` calls (``by`` driver, ``tolerance`` = TTL), with
  the inputs already sorted by time, and with the sorts inside the clock.

Every result's rows are counted (Feast drops some: the table says how many), and the
non-null count and sum of each feature is compared with the floor's.

Online, each store (SQLite, then the machine's Redis at 127.0.0.1:6379, db 15) in a fresh
process: materialize both views, then time lookups of 10 features (2 views) for 1 and
for 100 random drivers, in process: keel's prepared lookup (``prepare_online_features``,
what a server keeps) and ``get_online_features`` (prepares each call), Feast's
``get_online_features(...).to_dict()``.

Feast runs in a virtualenv of its own that this script creates (cached under
``~/.cache/keel-bench``): it pins pandas < 3 and an older prometheus-client, which
would change keel's own environment (docs/decisions.md, issue 13).

Usage::

    python benchmarks/features.py                   # the full table (~15 minutes)
    python benchmarks/features.py --quick           # a smoke run (small data)
    python benchmarks/features.py --skip-feast --json features.json

Not a test: speed is never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KEEL_BENCH_CACHE", Path.home() / ".cache" / "keel-bench"))
FEAST_VERSION = "0.67.0"
REDIS = os.environ.get("KEEL_BENCH_REDIS", "redis://127.0.0.1:6379/15")
FEATURES = 5  # per view
VIEWS = {"stats_a": ("a", 30), "stats_b": ("b", 2)}  # name: (feature prefix, TTL days)
BASE = "2026-01-01T00:00:00+00:00"
SPAN_DAYS = 60
GiB = 1024**3


# -- data --------------------------------------------------------------------------------


def refs() -> list[str]:
    return [f"{v}:{p}{i}" for v, (p, _) in VIEWS.items() for i in range(FEATURES)]


def generate(folder: Path, feature_rows: int, entities: int, events: list[int]) -> None:
    """The feature files and the event files (deterministic)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(13)
    base = pd.Timestamp(BASE)
    span_us = SPAN_DAYS * 86_400 * 1_000_000
    per_view = feature_rows // len(VIEWS)
    for view, (prefix, _) in VIEWS.items():
        ids = rng.integers(0, entities, per_view)
        # distinct times per driver: the k-th value of a driver falls in the k-th slot
        order = np.argsort(ids, kind="stable")
        rank = np.empty(per_view, dtype=np.int64)
        sorted_ids = ids[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_ids)) + 1]
        counts = np.diff(np.r_[starts, per_view])
        rank[order] = np.arange(per_view) - np.repeat(starts, counts)
        count = np.empty(per_view, dtype=np.int64)
        count[order] = np.repeat(counts, counts)
        slot = span_us // count
        offset = rank * slot + (rng.random(per_view) * slot).astype(np.int64)
        frame = pd.DataFrame(
            {
                "driver_id": ids.astype(np.int64),
                "event_timestamp": base + pd.to_timedelta(offset, unit="us"),
            }
        )
        for i in range(FEATURES):
            frame[f"{prefix}{i}"] = rng.normal(i, 1.0, per_view)
        frame.to_parquet(folder / f"{view}.parquet", index=False)
    for n in events:
        ids = rng.integers(0, int(entities * 1.01), n)  # 1% of drivers have no features
        offset = rng.integers(-2 * 86_400_000_000, span_us + 2 * 86_400_000_000, n)
        frame = pd.DataFrame(
            {
                "driver_id": ids.astype(np.int64),
                "event_timestamp": base + pd.to_timedelta(offset, unit="us"),
            }
        )
        frame.to_parquet(folder / f"events-{n}.parquet", index=False)


# -- helpers used in the workers ---------------------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), imports included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _summary(frame: Any) -> dict[str, Any]:
    """Rows, and per feature the non-null count and sum (to compare contenders)."""
    out: dict[str, Any] = {"rows": len(frame)}
    for prefix, _ in VIEWS.values():
        for i in range(FEATURES):
            column = frame[f"{prefix}{i}"]
            out[f"{prefix}{i}"] = [int(column.notna().sum()), float(column.sum())]
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    import numpy as np

    ms = np.asarray(samples) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def _lookup_ids(entities: int, count: int, size: int, seed: int) -> list[list[int]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [[int(x) for x in rng.integers(0, entities, size)] for _ in range(count)]


# -- keel --------------------------------------------------------------------------------


def _keel_setup(folder: Path, home: Path, ttl: bool = True) -> None:
    """Register the views in a fresh keel home. Online, without TTLs: Feast's online
    store does not apply them, and keel would answer the benchmark's old values with
    nulls without decoding them (less work than Feast does)."""
    os.environ["KEEL_HOME"] = str(home)
    # what the calls import on first use, imported before any clock starts
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    import keel.features as kf
    import keel.features._historical
    import keel.features._materialize
    import keel.features._online_lookup  # noqa: F401

    driver = kf.Entity(name="driver", join_keys={"driver_id": "int64"})
    views: list[Any] = [
        kf.FeatureView(
            name=view,
            entities=["driver"],
            timestamp="event_timestamp",
            ttl=f"{days}d" if ttl else None,
            source=kf.Source(parquet=str(folder / f"{view}.parquet")),
            features={f"{prefix}{i}": "float64" for i in range(FEATURES)},
        )
        for view, (prefix, days) in VIEWS.items()
    ]
    kf.apply([driver, *views])


def worker_keel_offline(folder: Path, events: int) -> dict[str, Any]:
    import pandas as pd

    _keel_setup(folder, folder / f"keel-home-{uuid.uuid4().hex[:8]}")
    import keel.features as kf

    frame = pd.read_parquet(folder / f"events-{events}.parquet")
    start = time.perf_counter()
    result = kf.get_historical_features(frame, refs())
    out = result.to_pandas() if hasattr(result, "to_pandas") else result
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **_summary(out)}


def _serve_lookups(lookups: dict[str, Any], entities: int, ready: dict[str, Any]) -> None:
    """Answer the driver's lookup commands (one JSON line each) until it says quit.

    ``lookups[mode](rows)`` does one lookup of ``rows`` and returns how many were
    missing; each command times ``count`` lookups of ``size`` random drivers and answers
    with the seconds of each.
    """
    # as a server does after start-up: what setup allocated leaves the collector's view
    gc.collect()
    gc.freeze()
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            return
        lookup = lookups[command.get("mode", "prepared")]
        gc.collect()  # each block starts from the same state, whatever ran before it
        # a few untimed lookups first: the worker has been waiting while the other ran
        for ids in _lookup_ids(entities, 20, command["size"], command["seed"] + 1):
            lookup([{"driver_id": i} for i in ids])
        samples = []
        missing = 0
        for ids in _lookup_ids(entities, command["count"], command["size"], command["seed"]):
            rows = [{"driver_id": i} for i in ids]
            t = time.perf_counter()
            missing += lookup(rows)
            samples.append(time.perf_counter() - t)
        print(json.dumps({"samples": samples, "missing": missing}), flush=True)


def _nulls(values: dict[str, list[Any]]) -> int:
    """Nulls among the answers' first feature of each view (0: every value came back)."""
    return sum(v is None for name in ("a0", "b0") for v in values[name])


def _store_read(prepared: Any, rows: list[dict[str, Any]]) -> int:
    """The online store's read alone (both views' records, not decoded): the floor of a
    lookup on that store."""
    keys = [str(r["driver_id"]).encode() for r in rows]
    found = prepared.online.read(prepared.project, [(view, keys) for view in VIEWS])
    return sum(record is None for records in found for record in records)


def _keel_online(folder: Path, entities: int, store: str) -> dict[str, Any]:
    home = folder / f"keel-home-{uuid.uuid4().hex[:8]}"
    prefix = f"keel-bench-{uuid.uuid4().hex[:8]}:"
    if store == "redis":
        os.environ["KEEL_ONLINE_STORE"] = f"{REDIS}?key_prefix={prefix}"
    _keel_setup(folder, home, ttl=False)
    import keel.features as kf

    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the answers
            report = kf.materialize()
        ready = {"materialize_s": time.perf_counter() - start, "materialized": report.rows}
        with kf.prepare_online_features(refs()) as prepared:
            _serve_lookups(
                {
                    "prepared": lambda rows: _nulls(prepared.get(rows).values),
                    "unprepared": lambda rows: _nulls(kf.get_online_features(rows, refs()).values),
                    "store": lambda rows: _store_read(prepared, rows),
                },
                entities,
                ready,
            )
    finally:
        if store == "redis":
            import redis

            client = redis.Redis.from_url(REDIS)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i : i + 1000])
            client.close()
    return {}


# -- Feast (runs in its own virtualenv) --------------------------------------------------


def _feast_store(folder: Path, store: str) -> Any:
    import warnings
    from datetime import timedelta

    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig
    from feast.types import Float64

    repo = folder / f"feast-{uuid.uuid4().hex[:8]}"
    repo.mkdir()
    project = f"bench{uuid.uuid4().hex[:8]}"
    if store == "redis":
        host_port, _, db = REDIS.removeprefix("redis://").partition("/")
        online: dict[str, Any] = {"type": "redis", "connection_string": f"{host_port},db={db}"}
    else:
        online = {"type": "sqlite", "path": str(repo / "online.db")}
    config = RepoConfig(
        project=project,
        registry=str(repo / "registry.db"),
        provider="local",
        online_store=online,
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
    )
    fs = FeatureStore(config=config)
    driver = Entity(name="driver", join_keys=["driver_id"])
    views = [
        FeatureView(
            name=view,
            entities=[driver],
            ttl=timedelta(days=ttl),
            schema=[Field(name=f"{prefix}{i}", dtype=Float64) for i in range(FEATURES)],
            source=FileSource(
                path=str(folder / f"{view}.parquet"), timestamp_field="event_timestamp"
            ),
            online=True,
        )
        for view, (prefix, ttl) in VIEWS.items()
    ]
    fs.apply([driver, *views])
    return fs


def worker_feast_offline(folder: Path, events: int) -> dict[str, Any]:
    import dask.dataframe  # noqa: F401  (imported on first use; not timed)
    import pandas as pd

    fs = _feast_store(folder, "sqlite")
    frame = pd.read_parquet(folder / f"events-{events}.parquet")
    start = time.perf_counter()
    out = fs.get_historical_features(entity_df=frame, features=refs()).to_df()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **_summary(out)}


def _feast_online(folder: Path, entities: int, store: str) -> dict[str, Any]:
    from datetime import timedelta

    import pandas as pd

    fs = _feast_store(folder, store)
    try:
        base = pd.Timestamp(BASE).to_pydatetime()
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the answers
            fs.materialize(
                start_date=base - timedelta(days=1), end_date=base + timedelta(days=SPAN_DAYS + 1)
            )
        ready = {"materialize_s": time.perf_counter() - start}
        features = refs()

        def lookup(rows: list[dict[str, Any]]) -> int:
            out = fs.get_online_features(features=features, entity_rows=rows).to_dict()
            return _nulls(out)

        _serve_lookups({"prepared": lookup}, entities, ready)
    finally:
        fs.teardown()
    return {}


# -- the pandas floor --------------------------------------------------------------------


def worker_floor(folder: Path, events: int, presorted: bool) -> dict[str, Any]:
    import pandas as pd

    frame = pd.read_parquet(folder / f"events-{events}.parquet")
    tables = {v: pd.read_parquet(folder / f"{v}.parquet") for v in VIEWS}
    if presorted:
        frame = frame.sort_values("event_timestamp", kind="stable")
        tables = {v: t.sort_values("event_timestamp", kind="stable") for v, t in tables.items()}
    start = time.perf_counter()
    if not presorted:
        frame = frame.sort_values("event_timestamp", kind="stable")
        tables = {v: t.sort_values("event_timestamp", kind="stable") for v, t in tables.items()}
    out = frame
    for view, (_, ttl) in VIEWS.items():
        out = pd.merge_asof(
            out,
            tables[view],
            on="event_timestamp",
            by="driver_id",
            direction="backward",
            allow_exact_matches=True,
            tolerance=pd.Timedelta(days=ttl),
        )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **_summary(out)}


# -- driver ------------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    name = args.worker
    if name == "keel-offline":
        result = worker_keel_offline(folder, args.events)
    elif name == "feast-offline":
        result = worker_feast_offline(folder, args.events)
    elif name == "floor-presorted":
        result = worker_floor(folder, args.events, True)
    elif name == "floor-sorting":
        result = worker_floor(folder, args.events, False)
    elif name.startswith("keel-online-"):
        result = _keel_online(folder, args.entities, name.rsplit("-", 1)[1])
    elif name.startswith("feast-online-"):
        result = _feast_online(folder, args.entities, name.rsplit("-", 1)[1])
    else:
        raise SystemExit(f"unknown worker {name}")
    result["rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def feast_python() -> Path | None:
    """The Feast virtualenv's python (created on first use), or None with the reason printed."""
    venv = CACHE / f"feast-{FEAST_VERSION}"
    python = venv / "bin" / "python"
    if (venv / ".installed").exists():
        return python
    print(f"creating {venv} (feast[redis]=={FEAST_VERSION}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"feast[redis]=={FEAST_VERSION}"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        print(f"Feast could not be installed: {done.stderr.strip()[-1500:]}", file=sys.stderr)
        return None
    (venv / ".installed").touch()
    return python


def run_worker(
    python: Path | str, name: str, folder: Path, args: argparse.Namespace, events: int = 0
) -> dict[str, Any] | None:
    """One contender in a fresh process (None, with its error printed, if it failed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONPATH"] = str(ROOT / "src")
    if name.startswith("feast"):
        env.pop("PYTHONPATH")
        env["FEAST_USAGE"] = "False"
    cmd = [
        str(python),
        __file__,
        "--worker",
        name,
        "--folder",
        str(folder),
        "--events",
        str(events),
        "--entities",
        str(args.entities),
        "--lookups",
        str(args.lookups),
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=args.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"  {name} ({events:,}): timed out after {args.timeout}s", flush=True)
        return {"timed_out": True}
    if done.returncode != 0:
        print(f"  {name} ({events:,}) failed:\n{done.stderr[-3000:]}", flush=True)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


class OnlineWorker:
    """A contender's online worker: set up and materialized, then answering lookup commands."""

    def __init__(self, python: Path | str, name: str, folder: Path, args: argparse.Namespace):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        if name.startswith("feast"):
            env["FEAST_USAGE"] = "False"
        else:
            env["PYTHONPATH"] = str(ROOT / "src")
        self.name = name
        self.errors = (folder / f"{name}.err").open("w")
        cmd = [str(python), __file__, "--worker", name, "--folder", str(folder)]
        cmd += ["--entities", str(args.entities), "--events", "0"]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            env=env,
        )
        self.ready = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.errors.flush()
            tail = Path(self.errors.name).read_text()[-3000:]
            raise RuntimeError(f"{self.name} stopped:\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def lookups(self, mode: str, size: int, count: int, seed: int) -> dict[str, Any]:
        assert self.proc.stdin is not None
        command = {"mode": mode, "size": size, "count": count, "seed": seed}
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
        self.proc.stdin.flush()
        final = self._answer()
        self.proc.wait(timeout=300)
        for stream in (self.proc.stdin, self.proc.stdout, self.errors):
            if stream is not None:
                stream.close()
        return final


def online_round(
    store: str, feast: Path | None, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Both contenders on one store: each materializes (one after the other), then their
    lookups run in alternating blocks, so both are measured over the same minutes."""
    workers: dict[str, OnlineWorker] = {}
    try:
        workers["keel"] = OnlineWorker(sys.executable, f"keel-online-{store}", folder, args)
        if feast:
            workers["feast"] = OnlineWorker(feast, f"feast-online-{store}", folder, args)
    except RuntimeError as exc:
        print(f"  online {store}: {exc}", flush=True)
        for w in workers.values():
            w.proc.kill()
        return {}
    samples: dict[str, list[float]] = {}
    missing: dict[str, int] = {}
    blocks = 10
    plan = [("prepared", 1, args.lookups), ("prepared", 100, max(args.lookups // 10, 20))]
    plan.append(("unprepared", 1, max(args.lookups // 20, 20)))
    plan.append(("store", 1, args.lookups))
    for block in range(blocks):
        for mode, size, total in plan:
            for tool, w in workers.items():
                if mode in ("unprepared", "store") and tool != "keel":
                    continue
                answer = w.lookups(mode, size, max(total // blocks, 2), seed=block * 1000 + size)
                samples.setdefault(f"{tool}/{mode}_{size}", []).extend(answer["samples"])
                missing[f"{tool}/{mode}_{size}"] = (
                    missing.get(f"{tool}/{mode}_{size}", 0) + answer["missing"]
                )
    out: dict[str, Any] = {}
    for tool, w in workers.items():
        final = w.close()
        result: dict[str, Any] = {**w.ready, "rss_mb": final.get("rss_mb")}
        for key, values in samples.items():
            if key.startswith(f"{tool}/"):
                name = key.split("/", 1)[1]
                result[name] = {**_percentiles(values), "n": len(values), "nulls": missing[key]}
        out[f"online/{tool}/{store}"] = result
        print(f"online {store} {tool}: {json.dumps(result)}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feature-rows", type=int, default=5_000_000)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--events", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--lookups", type=int, default=2000, help="1-entity lookups timed")
    parser.add_argument("--repeat", type=int, default=1, help="offline runs per contender")
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--skip-offline", action="store_true", help="only the online part")
    parser.add_argument("--skip-online", action="store_true", help="only the offline part")
    parser.add_argument("--feast-max-events", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per worker")
    parser.add_argument("--quick", action="store_true", help="small data (a smoke run)")
    parser.add_argument("--json", help="also write every raw result here")
    parser.add_argument("--tmp", help="folder for the generated files (default: a temporary one)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.events = int(args.events)
        worker(args)
        return
    sizes = [int(s) for s in args.events.split(",") if s]
    if args.quick:
        args.feature_rows, args.entities, sizes, args.lookups = 200_000, 5_000, [5_000, 20_000], 300
    feast = None if args.skip_feast else feast_python()
    results: dict[str, Any] = {"config": vars(args) | {"events": sizes}}
    results["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.tmp) as name:
        folder = Path(name)
        t = time.perf_counter()
        generate(folder, args.feature_rows, args.entities, [] if args.skip_offline else sizes)
        print(
            f"generated {args.feature_rows:,} feature rows over {args.entities:,} drivers and "
            f"events {sizes} in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
        offline = ["keel-offline", "floor-presorted", "floor-sorting"]
        for round_ in range(0 if args.skip_offline else args.repeat):
            for n in sizes:
                tools = offline + (
                    ["feast-offline"] if feast and n <= args.feast_max_events else []
                )
                for tool in tools:
                    python = feast if tool.startswith("feast") else sys.executable
                    r = run_worker(python or sys.executable, tool, folder, args, n)
                    if r is None:
                        continue
                    results.setdefault(f"{n}/{tool}", []).append(r)
                    if "seconds" in r:
                        print(
                            f"round {round_ + 1} {n:>10,} {tool:<16} {r['seconds']:8.2f}s "
                            f"{r['rss_mb']:8.0f} MB {r['rows']:>10,} rows",
                            flush=True,
                        )
        for store in () if args.skip_online else ("sqlite", "redis"):
            results.update(online_round(store, feast, folder, args))
    results["load_after"] = os.getloadavg()
    report(results, sizes)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def _median(runs: list[dict[str, Any]] | None, key: str) -> float | None:
    if not runs or any(key not in r for r in runs):
        return None
    return statistics.median(r[key] for r in runs)


def _agrees(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same non-null count and (to rounding) the same sum for every feature."""
    for prefix, _ in VIEWS.values():
        for i in range(FEATURES):
            (na, sa), (nb, sb) = a[f"{prefix}{i}"], b[f"{prefix}{i}"]
            if na != nb or abs(sa - sb) > 1e-6 * max(1.0, abs(sa), abs(sb)):
                return False
    return True


def report(results: dict[str, Any], sizes: list[int]) -> None:
    names = {
        "keel-offline": "keel get_historical_features",
        "feast-offline": f"Feast {FEAST_VERSION} (local, file offline store)",
        "floor-presorted": "pandas merge_asof, presorted (floor)",
        "floor-sorting": "pandas merge_asof, with the sorts",
    }
    goals: list[tuple[str, bool | None, str]] = []
    print()
    print("Offline: training data for N entity events, 10 features from 2 views")
    print()
    print(
        "| events | contender | time (s) | peak RSS (MB) | rows out | rows dropped | "
        "time / keel's | same values as the floor |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        keel_s = _median(results.get(f"{n}/keel-offline"), "seconds")
        floor = (results.get(f"{n}/floor-presorted") or [None])[0]
        for tool in ("keel-offline", "feast-offline", "floor-presorted", "floor-sorting"):
            runs = results.get(f"{n}/{tool}")
            if not runs:
                continue
            if runs[0].get("timed_out"):
                print(f"| {n:,} | {names[tool]} | timed out | | | | | |")
                continue
            s = _median(runs, "seconds") or 0.0
            mem = _median(runs, "rss_mb") or 0.0
            rows = runs[0]["rows"]
            ratio = f"{s / keel_s:.2f}x" if keel_s and tool != "keel-offline" else ""
            same = "" if floor is None or tool == "floor-presorted" else _agrees(runs[0], floor)
            print(
                f"| {n:,} | {names[tool]} | {s:.2f} | {mem:,.0f} | {rows:,} | {n - rows:,} | "
                f"{ratio} | {'' if same == '' else ('yes' if same else 'no')} |"
            )
        k = results.get(f"{n}/keel-offline")
        if k and n == max(sizes):
            ks, km = _median(k, "seconds") or 0, _median(k, "rss_mb") or 0
            goals.append(
                (
                    f"{n:,} events in <= 1.5 s and <= 2 GiB",
                    ks <= 1.5 and km * 1024**2 <= 2 * GiB,
                    f"{ks:.2f} s, {km:,.0f} MB",
                )
            )
        f = results.get(f"{n}/feast-offline")
        if k and f and not f[0].get("timed_out") and n == min(sizes):
            speedup = (_median(f, "seconds") or 0) / (_median(k, "seconds") or 1)
            goals.append((f">= 50x Feast at {n:,} events", speedup >= 50, f"{speedup:.0f}x"))
        if k:
            dropped = n - k[0]["rows"]
            goals.append((f"no event dropped by keel at {n:,}", dropped == 0, f"{dropped} dropped"))
        if f and not f[0].get("timed_out"):
            goals.append((f"(Feast drops at {n:,})", None, f"{n - f[0]['rows']:,} rows"))
    print()
    print("Online: lookups of 10 features (2 views), in process; materialization of both views")
    print()
    print(
        "| store | contender | materialize (s) | 1 entity p50 (ms) | 1 entity p99 (ms) | "
        "100 entities p50 (ms) | 100 entities p99 (ms) | null values returned |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for store in ("sqlite", "redis"):
        keel = results.get(f"online/keel/{store}")
        feast = results.get(f"online/feast/{store}")
        rows = []
        if keel:
            rows.append(("keel, prepared lookup", keel, "prepared"))
        if feast:
            rows.append((f"Feast {FEAST_VERSION}", feast, "prepared"))
        for label, r, kind in rows:
            one, hundred = r[f"{kind}_1"], r[f"{kind}_100"]
            nulls = one.get("nulls", 0) + hundred.get("nulls", 0)
            print(
                f"| {store} | {label} | {r['materialize_s']:.1f} | {one['p50_ms']:.3f} | "
                f"{one['p99_ms']:.3f} | {hundred['p50_ms']:.3f} | {hundred['p99_ms']:.3f} | "
                f"{nulls} |"
            )
        if keel:
            u = keel["unprepared_1"]
            print(
                f"| {store} | keel get_online_features (prepares each call) | | "
                f"{u['p50_ms']:.3f} | {u['p99_ms']:.3f} | | | {u.get('nulls', 0)} |"
            )
            f = keel["store_1"]
            print(
                f"| {store} | floor: the store's read alone (keel's, no decoding) | | "
                f"{f['p50_ms']:.3f} | {f['p99_ms']:.3f} | | | {f.get('nulls', 0)} |"
            )
            p99 = keel["prepared_1"]["p99_ms"]
            goals.append((f"online p99, 1 entity, {store} < 1 ms", p99 < 1.0, f"{p99:.3f} ms"))
            if feast:
                fp99 = feast["prepared_1"]["p99_ms"]
                goals.append(
                    (
                        f"online p99, 1 entity, {store} below Feast's",
                        p99 < fp99,
                        f"{p99:.3f} vs {fp99:.3f} ms",
                    )
                )
    print()
    if "load_before" in results:
        before, after = results["load_before"][0], results["load_after"][0]
        print(
            f"machine: {os.cpu_count()} cores, load average {before:.1f} before, {after:.1f} after"
        )
    for goal, met, detail in goals:
        mark = "info" if met is None else ("met" if met else "NOT met")
        print(f"- {goal}: {mark} ({detail})")


if __name__ == "__main__":
    main()
