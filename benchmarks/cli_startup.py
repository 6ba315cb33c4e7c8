"""Cold start-up of the ``keel`` CLI: the median of N fresh processes per command.

Each command runs N times, each in a new Python process (``python -c "from keel.cli
import main; main()" ARGS``, which is what the ``keel`` console script does), against a
small store the script builds first: 6 runs, 3 dataset versions, 2 registered model
versions, a promotion and its audit events. The operating system's file cache is warm
(nothing is dropped), and so are the ``.pyc`` files (``PYTHONDONTWRITEBYTECODE`` is
removed from the runs' environment): this is the start-up a user sees on the second
call of the day.

``--ref REV`` measures a git revision too, side by side: its ``src/`` is exported with
``git archive`` into a temporary folder and imported from there (the same virtualenv,
its own store built by its own code). The machine is shared: the load average before
and after is printed with the table, and the commands are interleaved (one run of each
in turn) so a burst of load does not land on one command only.

Usage::

    python benchmarks/cli_startup.py [--runs 9] [--ref main] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS: list[list[str]] = [
    ["--help"],
    ["runs", "list"],
    ["datasets", "list"],
    ["models", "list"],
    ["audit", "verify"],
    ["experiments", "list"],
    ["doctor"],
]

# Builds the small store with the tree under test; only long-stable public calls.
POPULATE = r"""
import keel, keel.datasets
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

X, y = load_iris(return_X_y=True, as_frame=True)
for depth in range(1, 7):
    with keel.start_run(experiment="bench", run_name=f"tree-{depth}") as run:
        model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
        keel.log_params({"max_depth": depth})
        for step in range(20):
            keel.log_metric("loss", 1.0 / (step + 1), step=step)
        keel.log_metric("accuracy", model.score(X, y))
        if depth > 4:
            keel.sklearn.log_model(model)
frame = load_iris(as_frame=True).frame
frame.columns = ["a", "b", "c", "d", "species"]
frame.to_csv("iris.csv", index=False)
keel.datasets.register("iris.csv", "iris")
keel.datasets.split("iris", {"train": 0.8, "test": 0.2}, seed=0)
runs = keel.search_runs("bench", filter="metrics.accuracy > 0.9")
first = keel.models.register(runs.run_id[0], "iris")
keel.models.register(runs.run_id[1], "iris")
keel.models.promote("iris", first.version, to="champion")
"""


def _tree_env(src: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    # A user's Python caches compiled modules (.pyc) after the first run; so do these.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PYTHONPATH=str(src),
        KEEL_HOME=str(home),
        OMP_WAIT_POLICY="PASSIVE",
        MPLBACKEND="Agg",
        HF_HUB_OFFLINE="1",
    )
    return env


def _export(ref: str, into: Path) -> Path:
    """``src/`` of a git revision, exported into a folder (no checkout touched)."""
    into.mkdir(parents=True)
    archive = into / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "archive", ref, "src"], cwd=REPO, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _populate(src: Path, work: Path) -> dict[str, str]:
    env = _tree_env(src, work / ".keel")
    subprocess.run(
        [sys.executable, "-c", POPULATE], cwd=work, env=env, check=True, capture_output=True
    )
    for args in COMMANDS:  # one warm-up each: .pyc files written, store migrated
        _once(args, work, env)
    return env


def _once(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one cold ``keel ARGS`` process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from keel.cli import main; main()", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"keel {' '.join(args)} failed ({proc.returncode}):\n{err.decode()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="processes per command (default 9)")
    parser.add_argument("--ref", help="also measure this git revision (e.g. main)")
    parser.add_argument("--json", type=Path, help="write the raw timings here")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keel-cli-startup-") as tmp:
        trees: dict[str, tuple[Path, dict[str, str]]] = {}
        sources = [("this tree", REPO / "src")]
        if opts.ref:
            sources.insert(0, (opts.ref, _export(opts.ref, Path(tmp, "ref"))))
        for label, src in sources:
            work = Path(tmp, label.replace(" ", "-").replace("/", "-"), "work")
            work.mkdir(parents=True)
            trees[label] = (work, _populate(src, work))

        load_before = os.getloadavg()
        wall: dict[str, dict[str, list[float]]] = {
            label: {" ".join(a): [] for a in COMMANDS} for label in trees
        }
        cpu: dict[str, dict[str, list[float]]] = {
            label: {" ".join(a): [] for a in COMMANDS} for label in trees
        }
        for _ in range(opts.runs):
            for args in COMMANDS:
                for label, (work, env) in trees.items():
                    w, c = _once(args, work, env)
                    wall[label][" ".join(args)].append(w)
                    cpu[label][" ".join(args)].append(c)
        load_after = os.getloadavg()

    labels = list(trees)
    print(f"\nkeel CLI cold start-up, median of {opts.runs} processes per command, seconds")
    print("(wall clock, and the process's CPU time, user + system, which load disturbs less)")
    print("| command | " + " | ".join(f"{label}: wall | CPU" for label in labels) + " |")
    print("|---|" + "---|---|" * len(labels))
    for args in COMMANDS:
        key = " ".join(args)
        cells = [
            f"{statistics.median(wall[label][key]):.3f} | {statistics.median(cpu[label][key]):.3f}"
            for label in labels
        ]
        print(f"| `keel {key}` | " + " | ".join(cells) + " |")
    print(
        f"\nload average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs"
    )
    if opts.json:
        opts.json.write_text(
            json.dumps(
                {"runs": opts.runs, "load": [load_before, load_after], "wall": wall, "cpu": cpu}
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
