"""Serving benchmark: ``keel serve`` against ``mlflow models serve`` and MLServer 1.7.1.

Two models, the same for every server: a 100-tree random forest on iris and a
gradient-boosted classifier (100 trees) on a 20-feature synthetic set. Every server is
driven by the same load generator (``wrk``, Debian's package) on 127.0.0.1 with
single-row requests for a fixed time at each concurrency, ``--repeat`` times; the
table reports the median req/s, p50 and p99 of the repetitions. In the same run:

* the HTTP floor: a bare FastAPI app under uvicorn that echoes the same payload;
* the compute floor: the fastest in-process prediction of one row (ONNX Runtime with
  keel's serving settings, and scikit-learn's own ``predict``).

MLServer (mlserver and mlserver-sklearn 1.7.1) runs in a virtualenv of its own that
this script creates (cached under ``~/.cache/keel-bench``), with uvloop pinned to 0.21:
with uvloop 0.22+ its inference worker dies at start while ``/v2/health/ready`` still
answers 200, so the script waits on the model's own ready route. It is measured with
``parallel_workers`` 0 and 1.

Usage::

    python benchmarks/serving.py                      # the full table (~10 minutes)
    python benchmarks/serving.py --quick --skip-mlserver   # a smoke run
    python benchmarks/serving.py --json serving.json

Not a test: speed is never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KEEL_BENCH_CACHE", Path.home() / ".cache" / "keel-bench"))
MLSERVER_VERSION = "1.7.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, method: str = "GET"
) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


class Proc:
    """A server subprocess, stopped by its own PID."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(
                    self.proc.pid, signal.SIGTERM
                )  # its own session: the server and its workers
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._out.close()


# -- models -------------------------------------------------------------------------


def build_models(work: Path) -> dict[str, Any]:
    """Train both models, register them in keel, save them for MLflow and MLServer."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris, make_classification
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    import keel

    X_iris, y_iris = load_iris(return_X_y=True, as_frame=True)
    Xs, ys = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=0)
    X_syn = pd.DataFrame(Xs, columns=[f"f{i}" for i in range(20)])
    models = {
        "rf": (RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1), X_iris, y_iris),
        "gbm": (
            GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
            X_syn,
            pd.Series(ys),
        ),
    }
    out: dict[str, Any] = {}
    for name, (model, X, y) in models.items():
        model.fit(X, y)
        with keel.start_run(experiment="serving-bench"):
            version = keel.log_model(model, name=name, input_example=X.head(20)).version
        keel.models.promote(version.ref, to="champion")
        folder = work / "mlserver" / name
        folder.mkdir(parents=True)
        joblib.dump(model, folder / "model.joblib")
        (folder / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"},
                }
            )
        )
        row = X.iloc[0]
        out[name] = {
            "model": model,
            "columns": list(X.columns),
            "row": [float(v) for v in row],
            "onnx": version.file("onnx") is not None,
            "X": X,
        }
        try:
            import mlflow.sklearn

            # MLflow's own default for scikit-learn models before skops: cloudpickle
            mlflow.sklearn.save_model(
                model,
                str(work / "mlflow" / name),
                input_example=X.head(2),
                serialization_format="cloudpickle",
            )
            out[name]["mlflow"] = True
        except Exception as exc:  # mlflow is the bench extra
            out[name]["mlflow"] = False
            print(f"mlflow: cannot save {name}: {exc}", file=sys.stderr)
    del np
    return out


def compute_floor(models: dict[str, Any], repeat: int = 300) -> dict[str, dict[str, float]]:
    """The fastest in-process prediction of one row: ONNX Runtime (keel's settings) and native."""
    import numpy as np

    import keel.serving._models as served_models
    from keel.context import current_context
    from keel.serving import endpoint_from_ref

    floors: dict[str, dict[str, float]] = {}
    for name, info in models.items():
        served = served_models.load_served_model(
            f"{name}@champion", endpoint_from_ref(f"{name}@champion"), context=current_context()
        )
        from keel.serving._inputs import InputBatch

        batch = InputBatch(1, matrix=np.array([info["row"]], dtype=np.float64))
        frame = info["X"].head(1)
        best_onnx = best_native = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            served.runtime.predict(batch, proba=False)
            best_onnx = min(best_onnx, time.perf_counter() - t0)
        for _ in range(max(20, repeat // 5)):
            t0 = time.perf_counter()
            info["model"].predict(frame)
            best_native = min(best_native, time.perf_counter() - t0)
        floors[name] = {
            "runtime": served.runtime.kind,
            "keel_runtime_ms": best_onnx * 1000,
            "sklearn_predict_ms": best_native * 1000,
        }
    return floors


# -- load ---------------------------------------------------------------------------

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "r"); wrk.body = f:read("*all"); f:close()
"""


def parse_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, body: Path, connections: int, duration: float, work: Path) -> dict[str, float]:
    script = work / f"{body.stem}.lua"
    script.write_text(LUA.format(body=body))
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # the latency distribution's lines (not "91.50%" of the thread stats above them)
    p50 = parse_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = parse_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def measure(
    label: str,
    url: str,
    body: Path,
    concurrencies: list[int],
    duration: float,
    repeat: int,
    work: Path,
    results: list[dict[str, Any]],
) -> None:
    # a short warm-up so the first repetition does not pay for lazy start-up work
    wrk(url, body, 4, 1, work)
    for c in concurrencies:
        runs = [wrk(url, body, c, duration, work) for _ in range(repeat)]
        row = {
            "server": label,
            "concurrency": c,
            "rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "runs": runs,
        }
        results.append(row)
        print(
            f"{label:38s} c={c:<3d} {row['rps']:9.0f} req/s  p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  non-2xx {row['non_2xx']}",
            flush=True,
        )


# -- servers ------------------------------------------------------------------------

ECHO_APP = """
from fastapi import FastAPI, Request, Response
app = FastAPI()

@app.post("/echo")
async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")
"""


def mlserver_python() -> Path | None:
    """The MLServer virtualenv's python (created on first use), or None with the reason printed."""
    venv = CACHE / f"mlserver-{MLSERVER_VERSION}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists():
        return python
    import sklearn

    print(f"creating {venv} (mlserver {MLSERVER_VERSION}, uvloop 0.21) ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"mlserver=={MLSERVER_VERSION}",
            f"mlserver-sklearn=={MLSERVER_VERSION}",
            "uvloop==0.21.0",
            f"scikit-learn=={sklearn.__version__}",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if result.returncode != 0:
        print(f"MLServer could not be installed: {result.stderr.strip()[-1500:]}", file=sys.stderr)
        return None
    marker.touch()
    return python


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--quick", action="store_true", help="1 repetition of 2 s")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeat = 2.0, 1
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (make bench-serving does it)")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="keel-serving-bench-"))
    env = {
        **os.environ,
        "KEEL_HOME": str(work / ".keel"),
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONPATH": str(ROOT / "src"),
        # mlflow models serve starts `uvicorn` from PATH: this interpreter's scripts first
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    os.environ.update({k: env[k] for k in ("KEEL_HOME", "OMP_WAIT_POLICY")})
    print(f"work folder {work}", flush=True)
    models = build_models(work)
    floors = compute_floor(models)
    for name, f in floors.items():
        print(
            f"compute floor {name}: {f['runtime']} {f['keel_runtime_ms']:.3f} ms, scikit-learn predict {f['sklearn_predict_ms']:.3f} ms",
            flush=True,
        )
    bodies: dict[str, dict[str, Path]] = {}
    for name, info in models.items():
        plain = {"inputs": [dict(zip(info["columns"], info["row"], strict=True))]}
        mlflow_body = {"dataframe_split": {"columns": info["columns"], "data": [info["row"]]}}
        oip = {
            "inputs": [
                {
                    "name": "predict",
                    "shape": [1, len(info["row"])],
                    "datatype": "FP64",
                    "data": info["row"],
                }
            ]
        }
        bodies[name] = {}
        for kind, body in (("plain", plain), ("mlflow", mlflow_body), ("oip", oip)):
            path = work / f"{name}-{kind}.json"
            path.write_text(json.dumps(body))
            bodies[name][kind] = path
    results: list[dict[str, Any]] = []
    python = sys.executable

    # the HTTP floor
    (work / "echo_app.py").write_text(ECHO_APP)
    port = free_port()
    echo = Proc(
        [
            python,
            "-m",
            "uvicorn",
            "echo_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        work,
        env,
        work / "echo.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/docs", 60, echo.proc)
        measure(
            "echo floor (FastAPI + uvicorn)",
            f"http://127.0.0.1:{port}/echo",
            bodies["rf"]["plain"],
            concurrencies,
            args.duration,
            args.repeat,
            work,
            results,
        )
    finally:
        echo.stop()

    # keel serve: both models, and the boosted one again without micro-batching
    spec = {
        "endpoints": [
            {"name": "rf", "targets": [{"model": "rf@champion"}]},
            {"name": "gbm", "targets": [{"model": "gbm@champion"}]},
            {
                "name": "gbm-nobatch",
                "targets": [{"model": "gbm@champion"}],
                "batching": {"enabled": False},
            },
        ]
    }
    (work / "endpoints.yaml").write_text(json.dumps(spec))
    port = free_port()
    keel_proc = Proc(
        [
            python,
            "-c",
            "from keel.cli import main; main()",
            "serve",
            str(work / "endpoints.yaml"),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        work,
        env,
        work / "keel.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/health/ready", 120, keel_proc.proc)
        for name in ("rf", "gbm"):
            measure(
                f"keel serve {name} ({floors[name]['runtime']})",
                f"http://127.0.0.1:{port}/v1/endpoints/{name}/predict",
                bodies[name]["plain"],
                concurrencies,
                args.duration,
                args.repeat,
                work,
                results,
            )
        measure(
            "keel serve gbm, batching off",
            f"http://127.0.0.1:{port}/v1/endpoints/gbm-nobatch/predict",
            bodies["gbm"]["plain"],
            [c for c in concurrencies if c >= 16] or concurrencies,
            args.duration,
            args.repeat,
            work,
            results,
        )
        measure(
            "keel serve rf, OIP infer",
            f"http://127.0.0.1:{port}/v2/models/rf/infer",
            bodies["rf"]["oip"],
            [16],
            args.duration,
            args.repeat,
            work,
            results,
        )
    finally:
        keel_proc.stop()

    if not args.skip_mlflow and (
        shutil.which("mlflow") or (Path(python).parent / "mlflow").exists()
    ):
        mlflow_bin = (
            str(Path(python).parent / "mlflow")
            if (Path(python).parent / "mlflow").exists()
            else "mlflow"
        )
        for name in models:
            if args.skip_mlflow or not models[name].get("mlflow"):
                continue
            port = free_port()
            proc = Proc(
                [
                    mlflow_bin,
                    "models",
                    "serve",
                    "-m",
                    str(work / "mlflow" / name),
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                work,
                env,
                work / f"mlflow-{name}.log",
            )
            try:
                wait_http(f"http://127.0.0.1:{port}/ping", 180, proc.proc)
                measure(
                    f"mlflow models serve {name}",
                    f"http://127.0.0.1:{port}/invocations",
                    bodies[name]["mlflow"],
                    concurrencies,
                    args.duration,
                    args.repeat,
                    work,
                    results,
                )
            finally:
                proc.stop()

    if not args.skip_mlserver:
        ml_python = mlserver_python()
        if ml_python is not None:
            for workers in (0, 1):
                folder = work / "mlserver"
                port, grpc, metrics = free_port(), free_port(), free_port()
                (folder / "settings.json").write_text(
                    json.dumps(
                        {
                            "parallel_workers": workers,
                            "http_port": port,
                            "grpc_port": grpc,
                            "metrics_port": metrics,
                            "host": "127.0.0.1",
                        }
                    )
                )
                ml_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
                proc = Proc(
                    [str(ml_python.parent / "mlserver"), "start", str(folder)],
                    folder,
                    ml_env,
                    work / f"mlserver-{workers}.log",
                )
                try:
                    for name in models:
                        wait_http(f"http://127.0.0.1:{port}/v2/models/{name}/ready", 180, proc.proc)
                    for name in models:
                        measure(
                            f"MLServer {MLSERVER_VERSION} {name} (parallel_workers={workers})",
                            f"http://127.0.0.1:{port}/v2/models/{name}/infer",
                            bodies[name]["oip"],
                            concurrencies,
                            args.duration,
                            args.repeat,
                            work,
                            results,
                        )
                finally:
                    proc.stop()

    print()
    print(table(results, floors))
    if args.json:
        args.json.write_text(json.dumps({"floors": floors, "results": results}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def table(results: list[dict[str, Any]], floors: dict[str, dict[str, float]]) -> str:
    lines = [
        "| server | concurrency | req/s | p50 ms | p99 ms | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['server']} | {r['concurrency']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} |"
        )
    lines.append("")
    for name, f in floors.items():
        lines.append(
            f"compute floor {name}: {f['runtime']} {f['keel_runtime_ms']:.3f} ms per row; scikit-learn predict {f['sklearn_predict_ms']:.3f} ms"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
