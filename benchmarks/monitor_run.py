"""A monitor run over a large prediction log: wall time and peak memory.

A fresh keel home gets a logistic regression trained on ``credit-train`` (lineage,
target recorded) behind the stored endpoint ``credit``; the real serving app (in
process, httpx over ASGI) answers ``--rows`` rows in requests of 2,000 rows, so the log
is the one ``keel serve`` writes. Then, each in a fresh process:

1. ``drift``: a monitor of 10 row windows, data drift and prediction drift (the
   reference sketched and stored on the way);
2. ``cbpe``: a monitor of the same windows computing CBPE's estimate (the requests did
   not ask for probabilities, so the monitor asks the model for them);
3. ``resume``: one more window of traffic, and the drift monitor run again (it counts
   the rows before its first missing window in DuckDB and parses only what follows).

There is no reference tool to compare with and no goal to check: the figures say what a
run costs. Run it on an idle machine::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/monitor_run.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = ["x1", "x2", "x3"]


def _frame(rng: object, n: int, shifted: bool = False) -> object:
    import numpy as np
    import pandas as pd

    assert isinstance(rng, np.random.Generator)
    x1 = rng.normal(1.0 if shifted else 0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    x3 = rng.normal(0.0, 1.0, n)
    y = (x1 + 0.5 * x2 + rng.normal(0, 0.3, n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "y": y})


def _send(rows: int, seed: int, shifted: bool) -> None:
    import asyncio

    import httpx
    import numpy as np

    from keel.serving import create_app

    data = _frame(np.random.default_rng(seed), rows, shifted)

    async def go() -> None:
        app = create_app("credit", watch=False)
        await app.startup()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://keel") as http:
                for i in range(0, rows, 2000):
                    part = data.iloc[i : i + 2000]  # type: ignore[attr-defined]
                    answer = await http.post(
                        "/v1/endpoints/credit/predict",
                        json={"inputs": part[FEATURES].to_dict("records")},
                    )
                    answer.raise_for_status()
        finally:
            await app.shutdown()

    asyncio.run(go())


def prepare(rows: int) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import keel
    from keel.data import register
    from keel.monitoring import create_monitor
    from keel.serving import endpoints

    rng = np.random.default_rng(0)
    train = _frame(rng, 20_000)
    dataset = register(train, name="credit-train")
    with keel.start_run(experiment="credit"):
        keel.log_input(dataset, "trained_on")
        keel.log_param("target", "y")
        X = train[FEATURES]  # type: ignore[index]
        model = LogisticRegression().fit(X, train["y"])  # type: ignore[index]
        version = keel.log_model(model, name="credit", input_example=X.head(5)).version
    keel.models.promote(version.ref, to="champion")
    endpoints.create({"name": "credit", "targets": [{"model": "credit@champion"}]})
    window = {"rows": rows // 10}
    create_monitor(
        "drift",
        "credit",
        {"window": window, "grace": "1ms", "checks": ["data_drift", "prediction_drift"]},
    )
    create_monitor("cbpe", "credit", {"window": window, "grace": "1ms", "checks": ["performance"]})
    _send(rows, 1, shifted=False)


def measure(step: str, rows: int) -> dict[str, object]:
    from keel.monitoring import run_monitor

    if step == "resume":
        _send(rows // 10, 2, shifted=True)
    monitor = "cbpe" if step == "cbpe" else "drift"
    started = time.perf_counter()
    run = run_monitor(monitor, sinks=[])
    wall = time.perf_counter() - started
    return {
        "step": step,
        "wall_s": round(wall, 3),
        "results": len(run.computed),
        "windows": len({r.window for r in run.computed}),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _child(args: list[str], home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(KEEL_HOME=str(home), OMP_WAIT_POLICY="PASSIVE")
    done = subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of traffic")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "prepare":
        prepare(args.rows)
        return
    if args.worker:
        print(json.dumps(measure(args.worker, args.rows)))
        return
    with tempfile.TemporaryDirectory(prefix="keel-monitor-bench-") as tmp:
        home = Path(tmp) / ".keel"
        started = time.perf_counter()
        _child(["--worker", "prepare", "--rows", str(args.rows)], home)
        print(f"log of {args.rows:,} rows prepared in {time.perf_counter() - started:.1f} s")
        results = [
            json.loads(_child(["--worker", step, "--rows", str(args.rows)], home).splitlines()[-1])
            for step in ("drift", "cbpe", "resume")
        ]
    print(f"{'step':<8} {'wall s':>8} {'windows':>8} {'results':>8} {'peak RSS MB':>12}")
    for r in results:
        print(
            f"{r['step']:<8} {r['wall_s']:>8} {r['windows']:>8} {r['results']:>8} "
            f"{r['peak_rss_mb']:>12}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
