"""Server benchmark: ``keel server`` against an MLflow tracking server (issue 10, section 6).

Both servers run on 127.0.0.1 with SQLite behind them and a local artifact folder, started
by this script and stopped by their PID:

* ``mlflow server --backend-store-uri sqlite:///... --artifacts-destination ...`` (its
  default 4 workers; artifacts proxied through the server);
* ``keel server`` (its default 1 worker, token authentication on: every client sends the
  administrator's token that ``--init-admin`` printed).

The same operations also run on keel *embedded* (``keel.Client`` on the SQLite file, no
server), to show what the REST hop costs.

Clients are processes of this script (``--worker``), each with its own client object and
connection pool, started and warmed up (imports, first run) before any clock starts. At
concurrency C, C of them run the same operation at once; a rate is the values (or runs)
of all of them over the time from the first one's start to the last one's end.

Operations (the counts of a concurrency level are shared among its clients; ``--quick``
shrinks them):

a. metric values one call each: keel ``Client.log_metric`` (queued and written in the
   background; the clock stops once ``end_run`` has written the last value), MLflow
   ``MlflowClient.log_metric`` (one synchronous request each);
b. metric batches of 1,000 values: keel ``Client.log_batch``, MLflow ``log_batch``;
c. run creation: start, 5 params, 5 metrics, end (keel: ``create_run``, ``log_params``,
   ``log_metrics``, ``end_run``; MLflow: ``create_run``, ``log_batch`` of the params and
   of the metrics, as its fluent API does, ``set_terminated``); p50/p99 of one run and
   runs/s;
d. search: ``metrics.acc > 0.5`` over an experiment of 1,000 runs (about half match),
   every match returned; p50 and p99 latency (the runs are made first, untimed, each with
   one create and one batch);
e. a 100 MB file of random bytes uploaded as a run's artifact and downloaded again
   (the client's cache emptied first, so the bytes travel), against ``shutil.copy`` of
   the same file (and the same copy made durable with fsync, as keel's writes are).

Every count is checked after the clocks stop (every metric value read back, every run
finished, the right number of search hits, the downloaded bytes equal to the uploaded
ones); a shortfall fails the benchmark.

Usage::

    python benchmarks/server.py                 # the full table (~5 minutes on 2 cores)
    python benchmarks/server.py --quick         # a smoke run
    python benchmarks/server.py --skip-mlflow --json server.json

Not a test: speed is never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]

FILTER = "metrics.acc > 0.5"
SEED = 20261206
SEARCH_EXPERIMENT = "search"
BATCH = 1000  # MLflow's most metrics per log_batch

# values, runs and searches per concurrency level, shared among its clients, per side:
# MLflow's synchronous calls are slower, so it gets fewer to stay within minutes (a rate
# does not depend on the count once start-up is out of the clock)
FULL: dict[str, Any] = {
    "concurrency": (1, 8),
    "single": {"keel": 100_000, "embedded": 100_000, "mlflow": 800},
    "batch": {"keel": 100_000, "embedded": 100_000, "mlflow": 24_000},
    "runs": {"keel": 400, "embedded": 400, "mlflow": 80},
    "search_runs": 1_000,
    "searches": {"keel": 40, "embedded": 40, "mlflow": 10},
    "artifact_mb": 100,
}
QUICK: dict[str, Any] = {
    "concurrency": (1, 2),
    "single": {"keel": 2_000, "embedded": 2_000, "mlflow": 40},
    "batch": {"keel": 2_000, "embedded": 2_000, "mlflow": 2_000},
    "runs": {"keel": 10, "embedded": 10, "mlflow": 4},
    "search_runs": 40,
    "searches": {"keel": 4, "embedded": 4, "mlflow": 4},
    "artifact_mb": 4,
}


def shares(total: int, clients: int, least: int = 1) -> list[int]:
    """``total`` split among ``clients`` (each gets at least ``least``)."""
    base, extra = divmod(total, clients)
    return [max(least, base + (1 if i < extra else 0)) for i in range(clients)]


#: goals from issue 10, section 6
GOALS = {"metrics": 20.0, "runs": 10.0, "artifact": 1.5}

SIDES = {
    "keel": "keel server",
    "mlflow": "MLflow server",
    "embedded": "keel embedded",
}


# --------------------------------------------------------------------------------------
# the clients: one per worker process
# --------------------------------------------------------------------------------------


def run_metrics(worker: int, i: int) -> tuple[dict[str, str], dict[str, float]]:
    """The params and metrics of run ``i`` of ``worker`` (the same on every side)."""
    rng = random.Random(f"{SEED}-{worker}-{i}")
    params = {f"p{j}": f"value-{worker}-{i}-{j}" for j in range(5)}
    metrics = {"acc": rng.random(), **{f"m{j}": rng.random() for j in range(4)}}
    return params, metrics


def search_accs(n_runs: int) -> list[float]:
    """The ``acc`` of each run of the search experiment."""
    rng = random.Random(SEED)
    return [rng.random() for _ in range(n_runs)]


class KeelClient:
    """keel's SDK client, on whatever ``KEEL_STORE_URI`` names (a server or SQLite)."""

    def __init__(self) -> None:
        import keel
        from keel.store import Metric

        self._metric = Metric
        self.client = keel.Client()
        self.client.store  # noqa: B018 - connect (and migrate) before any clock
        run = self.client.create_run("warmup")  # one-off costs: git lookups, imports
        self.client.log_metric(run.id, "warm", 1.0)
        self.client.log_params(run.id, {"warm": 1})
        self.client.end_run(run.id)

    def prepare(self, experiments: list[str]) -> None:
        for name in experiments:
            self.client.store.tracking.get_or_create_experiment(name)

    def new_run(self, experiment: str, name: str | None = None) -> str:
        return self.client.create_run(experiment, run_name=name).id

    def log_metric(self, run_id: str, value: float, step: int) -> None:
        self.client.log_metric(run_id, "loss", value, step=step)

    def log_batch(self, run_id: str, start: int, stop: int) -> None:
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id, metrics=[self._metric("loss", i * 0.001, i, ts) for i in range(start, stop)]
        )

    def end(self, run_id: str) -> None:
        self.client.end_run(run_id)

    def full_run(
        self, experiment: str, name: str, params: dict[str, str], metrics: dict[str, float]
    ) -> None:
        run_id = self.client.create_run(experiment, run_name=name).id
        self.client.log_params(run_id, params)
        self.client.log_metrics(run_id, metrics)
        self.client.end_run(run_id)

    def seed_run(
        self, experiment: str, name: str, params: dict[str, str], metrics: dict[str, float]
    ) -> None:
        """A run to search (not timed): created, and everything logged in one batch."""
        run_id = self.client.create_run(experiment, run_name=name).id
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id, [self._metric(k, v, 0, ts) for k, v in metrics.items()], params=params
        )

    def search(self, experiment: str) -> int:
        return len(self.client.search_runs(experiment, filter=FILTER, max_results=50_000))

    def stored_values(self, run_id: str) -> int:
        return len(self.client.get_metric_history(run_id, "loss"))

    def finished_runs(self, experiment: str) -> int:
        runs = self.client.search_runs(experiment, max_results=50_000)
        return sum(1 for r in runs if r.status.value == "FINISHED")

    def upload(self, run_id: str, path: Path) -> None:
        self.client.log_artifact(run_id, path)

    def drop_local_copies(self) -> None:
        """Forget the cached copies, so a download fetches the bytes (as another machine)."""
        cache = self.client.settings.resolved_cache_dir()
        shutil.rmtree(cache / "objects", ignore_errors=True)

    def download(self, run_id: str, name: str, dst: Path) -> Path:
        return self.client.download_artifacts(run_id, name, dst)


class MlflowClient:
    """MLflow's ``MlflowClient`` on the server ``MLFLOW_TRACKING_URI`` names."""

    def __init__(self) -> None:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient as Client

        self._metric, self._param = Metric, Param
        self.client = Client()
        self._ids: dict[str, str] = {}
        run_id = self.client.create_run(self._experiment("warmup")).info.run_id
        self.client.log_metric(run_id, "warm", 1.0)
        self.client.log_param(run_id, "warm", 1)
        self.client.set_terminated(run_id)

    def _experiment(self, name: str) -> str:
        if name not in self._ids:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    self._ids[name] = self.client.create_experiment(name)
                except Exception:  # made by another worker meanwhile
                    found = self.client.get_experiment_by_name(name)
                    if found is None:
                        raise
                    self._ids[name] = found.experiment_id
            else:
                self._ids[name] = found.experiment_id
        return self._ids[name]

    def prepare(self, experiments: list[str]) -> None:
        for name in experiments:
            self._experiment(name)

    def new_run(self, experiment: str, name: str | None = None) -> str:
        run = self.client.create_run(self._experiment(experiment), run_name=name)
        return str(run.info.run_id)

    def log_metric(self, run_id: str, value: float, step: int) -> None:
        self.client.log_metric(run_id, "loss", value, step=step)

    def log_batch(self, run_id: str, start: int, stop: int) -> None:
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id, metrics=[self._metric("loss", i * 0.001, ts, i) for i in range(start, stop)]
        )

    def end(self, run_id: str) -> None:
        self.client.set_terminated(run_id)

    def full_run(
        self, experiment: str, name: str, params: dict[str, str], metrics: dict[str, float]
    ) -> None:
        run_id = self.client.create_run(self._experiment(experiment), run_name=name).info.run_id
        self.client.log_batch(run_id, params=[self._param(k, v) for k, v in params.items()])
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id, metrics=[self._metric(k, v, ts, 0) for k, v in metrics.items()]
        )
        self.client.set_terminated(run_id)

    def seed_run(
        self, experiment: str, name: str, params: dict[str, str], metrics: dict[str, float]
    ) -> None:
        """A run to search (not timed): created, and everything logged in one batch."""
        run_id = self.client.create_run(self._experiment(experiment), run_name=name).info.run_id
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[self._metric(k, v, ts, 0) for k, v in metrics.items()],
            params=[self._param(k, v) for k, v in params.items()],
        )

    def _all_runs(self, experiment: str, filter_string: str = "") -> list[Any]:
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self._experiment(experiment)], filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def search(self, experiment: str) -> int:
        return len(self._all_runs(experiment, FILTER))

    def stored_values(self, run_id: str) -> int:
        return len(self.client.get_metric_history(run_id, "loss"))

    def finished_runs(self, experiment: str) -> int:
        return sum(1 for r in self._all_runs(experiment) if r.info.status == "FINISHED")

    def upload(self, run_id: str, path: Path) -> None:
        self.client.log_artifact(run_id, str(path))

    def drop_local_copies(self) -> None:
        """MLflow keeps no cache: every download fetches the bytes."""

    def download(self, run_id: str, name: str, dst: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, name, str(dst)))


# -- the operations a worker runs, each returning its own clock readings --------------


def op_prepare(client: Any, experiments: list[str]) -> dict[str, Any]:
    client.prepare(experiments)
    return {}


def op_single(client: Any, worker: int, experiment: str, n: int) -> dict[str, Any]:
    run_id = client.new_run(experiment, f"single-{worker}")
    t0 = time.perf_counter()
    for i in range(n):
        client.log_metric(run_id, i * 0.001, i)
    client.end(run_id)  # keel: writes what is still queued; the clock stops after it
    t1 = time.perf_counter()
    return {"t0": t0, "t1": t1, "count": n, "stored": client.stored_values(run_id)}


def op_batch(client: Any, worker: int, experiment: str, n: int) -> dict[str, Any]:
    run_id = client.new_run(experiment, f"batch-{worker}")
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        client.log_batch(run_id, start, min(n, start + BATCH))
    t1 = time.perf_counter()
    client.end(run_id)
    return {"t0": t0, "t1": t1, "count": n, "stored": client.stored_values(run_id)}


def op_runs(client: Any, worker: int, experiment: str, n: int) -> dict[str, Any]:
    latencies = []
    t0 = time.perf_counter()
    for i in range(n):
        params, metrics = run_metrics(worker, i)
        t = time.perf_counter()
        client.full_run(experiment, f"run-{worker}-{i}", params, metrics)
        latencies.append(time.perf_counter() - t)
    t1 = time.perf_counter()
    return {"t0": t0, "t1": t1, "count": n, "latencies": latencies}


def op_finished(client: Any, experiment: str) -> dict[str, Any]:
    return {"finished": client.finished_runs(experiment)}


def op_populate(client: Any, worker: int, indices: list[int], n_runs: int) -> dict[str, Any]:
    accs = search_accs(n_runs)
    t0 = time.perf_counter()
    for i in indices:
        params = {"i": str(i)}
        metrics = {"acc": accs[i], "loss": 1 - accs[i]}
        client.seed_run(SEARCH_EXPERIMENT, f"search-{i}", params, metrics)
    return {"t0": t0, "t1": time.perf_counter(), "count": len(indices)}


def op_search(client: Any, worker: int, n: int) -> dict[str, Any]:
    latencies, hits = [], set()
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        hits.add(client.search(SEARCH_EXPERIMENT))
        latencies.append(time.perf_counter() - t)
    t1 = time.perf_counter()
    return {"t0": t0, "t1": t1, "count": n, "latencies": latencies, "hits": sorted(hits)}


def op_artifact(client: Any, worker: int, path: str, work: str) -> dict[str, Any]:
    src = Path(path)
    run_id = client.new_run("artifacts", "artifact")
    t0 = time.perf_counter()
    client.upload(run_id, src)
    upload = time.perf_counter() - t0
    client.end(run_id)
    client.drop_local_copies()
    dst = Path(work) / f"download-{worker}"
    t0 = time.perf_counter()
    got = client.download(run_id, src.name, dst)
    download = time.perf_counter() - t0
    got = got if got.is_file() else dst / src.name
    same = got.stat().st_size == src.stat().st_size and _sha256(got) == _sha256(src)
    shutil.rmtree(dst, ignore_errors=True)
    return {"upload": upload, "download": download, "same": same}


OPS = {
    "prepare": op_prepare,
    "single": op_single,
    "batch": op_batch,
    "runs": op_runs,
    "finished": op_finished,
    "populate": op_populate,
    "search": op_search,
    "artifact": op_artifact,
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def worker_main(side: str) -> None:
    """A client process: build the client, then run the commands read from stdin."""
    out = sys.stdout
    sys.stdout = sys.stderr  # libraries' prints must not mix with the protocol
    try:
        client: Any = MlflowClient() if side == "mlflow" else KeelClient()
    except Exception:
        out.write("@@" + json.dumps({"error": traceback.format_exc()}) + "\n")
        out.flush()
        return
    out.write("@@" + json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        try:
            result = OPS[command["op"]](client, **command["args"])
        except Exception:
            result = {"error": traceback.format_exc()}
        out.write("@@" + json.dumps(result) + "\n")
        out.flush()


# --------------------------------------------------------------------------------------
# the controller: servers, worker pools, the table
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its keel and MLflow settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "MLFLOW_", "AWS_"))}
    env.update(
        PYTHONPATH=str(ROOT / "src"),
        OMP_WAIT_POLICY="PASSIVE",
        # no telemetry: nothing may leave 127.0.0.1
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        # this interpreter's scripts (keel, mlflow, uvicorn) first
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra)
    return env


class Server:
    """A server subprocess in its own session, stopped by its PID."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_http(self, url: str, timeout: float) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"the server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{url} did not answer within {timeout:.0f} s; log: {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its session: it and its workers
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start_mlflow(work: Path) -> tuple[Server, dict[str, str]]:
    port = free_port()
    folder = work / "mlflow-server"
    folder.mkdir()
    server = Server(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        folder,
        # its background job runner (eight processes polling a queue) serves GenAI jobs,
        # not tracking: off, so it takes no CPU from the requests measured
        clean_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
        work / "mlflow-server.log",
    )
    server.wait_http(f"http://127.0.0.1:{port}/health", 180)
    return server, {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}


def start_keel(work: Path, workers: int, synchronous: str) -> tuple[Server, dict[str, str]]:
    port = free_port()
    home = work / "keel-server"
    home.mkdir()
    args = [str(Path(sys.executable).parent / "keel"), "server", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--workers", str(workers), "--init-admin"]
    env = clean_env(
        {
            "KEEL_HOME": str(home),
            "KEEL_USER_CONFIG": str(home / "user.toml"),
            "KEEL_SQLITE_SYNCHRONOUS": synchronous,
        }
    )
    server = Server(args, home, env, work / "keel-server.log")
    server.wait_http(f"http://127.0.0.1:{port}/health", 120)
    lines = server.log.read_text().splitlines()
    tokens = [line.strip() for line in lines if line.strip().startswith("keel_")]
    if not tokens:
        server.stop()
        raise SystemExit(f"keel server printed no admin token; log: {server.log}")
    return server, {"KEEL_STORE_URI": f"http://127.0.0.1:{port}", "KEEL_TOKEN": tokens[-1]}


class Pool:
    """Client processes of one side; commands go to the first C of them at once."""

    def __init__(self, side: str, n: int, work: Path, env: dict[str, str]) -> None:
        self.side = side
        self.procs: list[subprocess.Popen[str]] = []
        self.pumps: list[threading.Thread] = []
        self.lines: list[queue.Queue[str]] = []
        for i in range(n):
            home = work / f"client-{side}-{i}"
            home.mkdir(parents=True, exist_ok=True)
            worker_env = clean_env(
                {
                    # each client its own home and cache; embedded clients share the store
                    "KEEL_HOME": str(home),
                    "KEEL_CACHE_DIR": str(home / "cache"),
                    "KEEL_USER_CONFIG": str(home / "user.toml"),
                    **env,
                }
            )
            log = (work / f"client-{side}-{i}.log").open("ab")
            proc = subprocess.Popen(
                [sys.executable, str(HERE), "--worker", side],
                cwd=home,
                env=worker_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            log.close()
            lines: queue.Queue[str] = queue.Queue()
            pump = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
            pump.start()
            self.pumps.append(pump)
            self.procs.append(proc)
            self.lines.append(lines)
        for i in range(n):
            self._answer(i, 300)

    def _answer(self, i: int, timeout: float) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = json.loads(self.lines[i].get(timeout=timeout))
        except queue.Empty:
            self.close()
            raise SystemExit(f"{self.side} client {i} gave no answer in {timeout:.0f} s") from None
        if "error" in answer:
            self.close()
            raise SystemExit(f"{self.side} client {i} failed:\n{answer['error']}")
        return answer

    def run(
        self, op: str, args: list[dict[str, Any]], timeout: float = 600
    ) -> list[dict[str, Any]]:
        """Send ``op`` to the first ``len(args)`` clients, each with its arguments."""
        for i, a in enumerate(args):
            stdin = self.procs[i].stdin
            assert stdin is not None
            stdin.write(json.dumps({"op": op, "args": a}) + "\n")
            stdin.flush()
        return [self._answer(i, timeout) for i in range(len(args))]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None and proc.stdin is not None:
                try:
                    proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                    proc.stdin.close()
                except (OSError, ValueError):  # gone, or closed already
                    pass
        for proc, pump in zip(self.procs, self.pumps, strict=True):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()  # our own child, by its PID
                proc.wait(10)
            pump.join(10)  # it reads the pipe to its end
            if proc.stdout is not None and not pump.is_alive():
                proc.stdout.close()


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("@@"):
            lines.put(line[2:])
    lines.put(json.dumps({"error": f"the client process exited ({proc.wait()})"}))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _span(results: list[dict[str, Any]]) -> float:
    return max(r["t1"] for r in results) - min(r["t0"] for r in results)


def measure_side(
    side: str, counts: dict[str, Any], work: Path, env: dict[str, str], artifact: Path
) -> dict[str, Any]:
    """Every operation at every concurrency, on one side."""
    conc = counts["concurrency"]
    t_start = time.monotonic()
    pool = Pool(side, max(conc), work, env)
    print(f"  {side}: {max(conc)} clients ready in {time.monotonic() - t_start:.1f} s", flush=True)
    out: dict[str, Any] = {}
    try:
        experiments = [f"{op}-c{c}" for op in ("single", "batch", "runs") for c in conc]
        pool.run("prepare", [{"experiments": [*experiments, SEARCH_EXPERIMENT, "artifacts"]}])
        for op in ("single", "batch"):
            for c in conc:
                ns = shares(counts[op][side], c)
                res = pool.run(
                    op,
                    [{"worker": i, "experiment": f"{op}-c{c}", "n": n} for i, n in enumerate(ns)],
                )
                lost = [r for r in res if r["stored"] != r["count"]]
                if lost:
                    raise SystemExit(
                        f"{side} {op} c={c}: stored {lost[0]['stored']} of {lost[0]['count']} values"
                    )
                rate = sum(ns) / _span(res)
                out[f"{op}/{c}"] = {"rate": rate, "values": sum(ns), "seconds": _span(res)}
                print(f"  {side:8s} {op:6s} c={c}: {rate:12,.0f} values/s", flush=True)
        for c in conc:
            exp = f"runs-c{c}"
            ns = shares(counts["runs"][side], c)
            res = pool.run(
                "runs", [{"worker": i, "experiment": exp, "n": n} for i, n in enumerate(ns)]
            )
            (finished,) = pool.run("finished", [{"experiment": exp}])
            if finished["finished"] != sum(ns):
                raise SystemExit(f"{side} runs c={c}: {finished['finished']} of {sum(ns)} finished")
            latencies = [x for r in res for x in r["latencies"]]
            row = {
                "rate": sum(ns) / _span(res),
                "p50_ms": percentile(latencies, 0.5) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
                "runs": sum(ns),
            }
            out[f"runs/{c}"] = row
            print(
                f"  {side:8s} runs   c={c}: {row['rate']:12,.0f} runs/s  p50 {row['p50_ms']:.2f} ms"
                f"  p99 {row['p99_ms']:.2f} ms",
                flush=True,
            )
        total = counts["search_runs"]
        clients = max(conc)
        pop = pool.run(
            "populate",
            [
                {"worker": i, "indices": list(range(i, total, clients)), "n_runs": total}
                for i in range(clients)
            ],
        )
        print(f"  {side:8s} {total} runs to search, made in {_span(pop):.1f} s", flush=True)
        expected = sum(1 for acc in search_accs(total) if acc > 0.5)
        for c in conc:
            ns = shares(counts["searches"][side], c, least=2)
            res = pool.run("search", [{"worker": i, "n": n} for i, n in enumerate(ns)])
            hits = {h for r in res for h in r["hits"]}
            if hits != {expected}:
                raise SystemExit(f"{side} search: found {sorted(hits)} runs, expected {expected}")
            latencies = [x for r in res for x in r["latencies"]]
            row = {
                "p50_ms": percentile(latencies, 0.5) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
                "rate": sum(r["count"] for r in res) / _span(res),
                "hits": expected,
            }
            out[f"search/{c}"] = row
            print(
                f"  {side:8s} search c={c}: p50 {row['p50_ms']:.1f} ms  p99 {row['p99_ms']:.1f} ms"
                f"  ({expected} of {total} runs match)",
                flush=True,
            )
        (res,) = pool.run("artifact", [{"worker": 0, "path": str(artifact), "work": str(work)}])
        if not res["same"]:
            raise SystemExit(f"{side}: the downloaded artifact differs from the uploaded one")
        out["artifact"] = {"upload": res["upload"], "download": res["download"]}
        print(
            f"  {side:8s} artifact: upload {res['upload']:.2f} s, download {res['download']:.2f} s",
            flush=True,
        )
    finally:
        pool.close()
    out["seconds"] = time.monotonic() - t_start
    return out


def local_copy_floor(artifact: Path, work: Path, repeat: int = 3) -> dict[str, float]:
    """The fastest of ``repeat`` local copies: plain, and synced to disk."""
    best = {"copy": float("inf"), "copy_fsync": float("inf")}
    for i in range(repeat):
        for kind in best:
            dst = work / f"copy-{kind}-{i}.bin"
            t0 = time.perf_counter()
            shutil.copy(artifact, dst)
            if kind == "copy_fsync":
                fd = os.open(dst, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
            best[kind] = min(best[kind], time.perf_counter() - t0)
            dst.unlink()
    return best


# -- the table ----------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text}{unit}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else (f"{value:,.0f}x" if value >= 100 else f"{value:.1f}x")


def build_rows(
    results: dict[str, dict[str, Any]], conc: tuple[int, ...], search_runs: int = 1_000
) -> list[dict[str, Any]]:
    """The tracking table's rows: each side's figure, keel's speed-up, goals, REST overhead.

    ``speedup`` is how many times faster keel's server is than MLflow's (a rate over a
    rate, or a time over a time); ``overhead`` how many times slower keel over REST is
    than keel embedded.
    """
    rows = []
    spec = [
        ("metric values, one call each", "single", "rate", "values/s", True, GOALS["metrics"]),
        (
            f"metric values, batches of {BATCH:,}",
            "batch",
            "rate",
            "values/s",
            True,
            GOALS["metrics"],
        ),
        ("run: start + 5 params + 5 metrics + end", "runs", "rate", "runs/s", True, GOALS["runs"]),
        ("run, p50 latency", "runs", "p50_ms", "ms", False, None),
        ("run, p99 latency", "runs", "p99_ms", "ms", False, None),
        (
            f"search {search_runs:,} runs (`metrics.acc > 0.5`), p50",
            "search",
            "p50_ms",
            "ms",
            False,
            None,
        ),
        (f"search {search_runs:,} runs, p99", "search", "p99_ms", "ms", False, None),
    ]
    for label, op, field, unit, higher_better, goal in spec:
        for c in conc:
            values = {
                side: results[side].get(f"{op}/{c}", {}).get(field) if side in results else None
                for side in SIDES
            }
            keel, mlflow, embedded = values["keel"], values["mlflow"], values["embedded"]
            speedup = overhead = None
            if keel and mlflow:
                speedup = keel / mlflow if higher_better else mlflow / keel
            if keel and embedded:
                overhead = embedded / keel if higher_better else keel / embedded
            met = None
            if goal is not None and speedup is not None:
                met = "met" if speedup >= goal else "NOT met"
            rows.append(
                {
                    "operation": label,
                    "concurrency": c,
                    "unit": unit,
                    **values,
                    "speedup": speedup,
                    "goal": goal,
                    "met": met,
                    "overhead": overhead,
                }
            )
    return rows


def artifact_rows(
    results: dict[str, dict[str, Any]], floor: dict[str, float]
) -> list[dict[str, Any]]:
    rows = []
    for kind in ("upload", "download"):
        values = {
            side: results[side]["artifact"][kind] if side in results else None for side in SIDES
        }
        keel = values["keel"]
        vs_copy = keel / floor["copy"] if keel else None
        rows.append(
            {
                "operation": kind,
                **values,
                "copy": floor["copy"],
                "copy_fsync": floor["copy_fsync"],
                "vs_copy": vs_copy,
                "speedup": values["mlflow"] / keel if keel and values["mlflow"] else None,
                "met": None
                if vs_copy is None
                else ("met" if vs_copy <= GOALS["artifact"] else "NOT met"),
            }
        )
    return rows


def format_tables(rows: list[dict[str, Any]], arts: list[dict[str, Any]], mb: int) -> str:
    lines = [
        "| operation | clients | keel server | MLflow server | keel vs MLflow | goal | met "
        "| keel embedded | REST overhead |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        unit = f" {r['unit']}"
        goal = f">= {r['goal']:.0f}x" if r["goal"] else ""
        lines.append(
            f"| {r['operation']} | {r['concurrency']} | {_fmt(r['keel'], unit)} "
            f"| {_fmt(r['mlflow'], unit)} | {_ratio(r['speedup'])} | {goal} | {r['met'] or ''} "
            f"| {_fmt(r['embedded'], unit)} | {_ratio(r['overhead'])} |"
        )
    lines += [
        "",
        f"| artifact, {mb} MB | keel server | MLflow server | keel vs MLflow | keel embedded "
        "| local copy | local copy + fsync | keel server vs local copy | goal | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in arts:
        lines.append(
            f"| {r['operation']} | {_fmt(r['keel'], ' s')} | {_fmt(r['mlflow'], ' s')} "
            f"| {_ratio(r['speedup'])} | {_fmt(r['embedded'], ' s')} | {_fmt(r['copy'], ' s')} "
            f"| {_fmt(r['copy_fsync'], ' s')} | {_ratio(r['vs_copy'])} "
            f"| <= {GOALS['artifact']}x | {r['met'] or ''} |"
        )
    return "\n".join(lines)


def machine() -> str:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, load {load:.1f} "
        f"at start, Python {platform.python_version()}"
    )


def versions() -> str:
    from importlib import metadata

    found = []
    for name in ("keel", "mlflow", "fastapi", "uvicorn", "httpx", "sqlalchemy"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts, 1 and 2 clients")
    parser.add_argument("--skip-mlflow", action="store_true", help="keel only (no bench extra)")
    parser.add_argument("--keel-workers", type=int, default=1, help="keel server --workers")
    parser.add_argument(
        "--keel-synchronous",
        choices=("NORMAL", "FULL"),
        default="NORMAL",
        help="keel's SQLite synchronous mode (FULL: the durability of MLflow's SQLite store)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return
    # stopped from outside: still stop the servers and clients (the finally blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    counts = QUICK if args.quick else FULL
    conc: tuple[int, ...] = counts["concurrency"]
    work = Path(tempfile.mkdtemp(prefix="keel-server-bench-"))
    started = time.monotonic()
    at_start = machine()
    print(f"{at_start}; {versions()}; work folder {work}", flush=True)
    artifact = work / "artifact.bin"
    with artifact.open("wb") as f:
        for _ in range(counts["artifact_mb"]):
            f.write(os.urandom(1 << 20))
    results: dict[str, dict[str, Any]] = {}
    try:
        floor = local_copy_floor(artifact, work)
        print(
            f"  local copy of {counts['artifact_mb']} MB: {floor['copy']:.3f} s, "
            f"with fsync {floor['copy_fsync']:.3f} s",
            flush=True,
        )
        if not args.skip_mlflow:
            server, env = start_mlflow(work)
            try:
                results["mlflow"] = measure_side("mlflow", counts, work, env, artifact)
            finally:
                server.stop()
        server, env = start_keel(work, args.keel_workers, args.keel_synchronous)
        try:
            results["keel"] = measure_side("keel", counts, work, env, artifact)
        finally:
            server.stop()
        home = work / "keel-embedded"
        embedded_env = {"KEEL_STORE_URI": f"sqlite:///{home / 'keel.db'}"}
        embedded_env["KEEL_ARTIFACT_ROOT"] = str(home / "artifacts")
        embedded_env["KEEL_SQLITE_SYNCHRONOUS"] = args.keel_synchronous
        results["embedded"] = measure_side("embedded", counts, work, embedded_env, artifact)
        rows = build_rows(results, conc, counts["search_runs"])
        arts = artifact_rows(results, floor)
        print()
        print(
            f"{at_start} ({os.getloadavg()[0]:.1f} at the end); {versions()}; "
            f"keel server --workers {args.keel_workers}, SQLite "
            f"synchronous={args.keel_synchronous}; MLflow server with its default 4 workers; "
            f"{time.monotonic() - started:.0f} s in all"
        )
        print()
        print(format_tables(rows, arts, counts["artifact_mb"]))
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "counts": counts,
                        "floor": floor,
                        "results": results,
                        "rows": rows,
                        "artifact": arts,
                    },
                    indent=2,
                    default=str,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
