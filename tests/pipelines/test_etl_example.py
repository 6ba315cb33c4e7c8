"""The wine ETL demo (examples/02-etl-pipeline) end to end, from the command line.

It runs, re-runs as full cache hits, re-runs only what a param change or a code edit
affects, and its lineage from the raw CSV to the splits is queryable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from keel.store import LineageNode, PipelineRun, open_store

EXAMPLE = Path(__file__).parents[2] / "examples" / "02-etl-pipeline"
KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"
STEPS = ("load", "validate", "clean", "split", "class_balance")


def keel_cli(*args: str) -> str:
    proc = subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example, so a test can edit it."""
    copy = tmp_path / "etl"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _latest(keel_home: Path) -> PipelineRun:
    with open_store(f"sqlite:///{keel_home / 'keel.db'}") as store:
        return store.pipelines.list_pipeline_runs(max_results=1)[0]


def _statuses(run: PipelineRun) -> dict[str, str]:
    return {s.name: s.status.value for s in run.steps}


def test_the_committed_raw_csv_is_small_and_is_what_the_generator_writes(tmp_path: Path) -> None:
    raw = EXAMPLE / "data" / "wine_raw.csv"
    assert raw.stat().st_size < 100_000
    df = pd.read_csv(raw)
    assert df.shape == (183, 14) and df["cultivar"].nunique() == 3
    assert df.isna().sum().sum() > 0 and df.duplicated().sum() > 0  # flaws to clean


def test_runs_caches_reruns_what_changed_and_records_lineage(
    example: Path, keel_home: Path, client: object
) -> None:
    target = f"{example / 'pipeline.py'}:pipeline"
    out = keel_cli("pipelines", "run", target)
    assert "wine-etl" in out and "wine-etl.clean-train/1" in out
    first = _latest(keel_home)
    assert first.status.value == "FINISHED" and first.executed == STEPS

    keel_cli("pipelines", "run", target, "--executor", "process")
    assert set(_statuses(_latest(keel_home)).values()) == {"CACHED"}

    keel_cli("pipelines", "run", target, "--param", "test_size=0.3")
    assert _latest(keel_home).executed == ("split", "class_balance")

    source = (example / "pipeline.py").read_text()
    edited = source.replace('transform("median")', 'transform("mean")')
    assert edited != source
    (example / "pipeline.py").write_text(edited)
    keel_cli("pipelines", "run", target, "--param", "test_size=0.3")
    run = _latest(keel_home)
    assert _statuses(run) == {
        "load": "CACHED",
        "validate": "CACHED",
        "clean": "FINISHED",
        "split": "FINISHED",
        "class_balance": "FINISHED",
    }

    # the splits are dataset versions whose lineage reaches the raw file
    from keel.datasets import get_by_id

    split = run.step("split")
    parts = {o.name: get_by_id(o.ref).to_pandas() for o in split.outputs}
    assert sum(len(p) for p in parts.values()) == 178  # 183 rows less 5 duplicates
    assert all(p.notna().all().all() for p in parts.values())
    assert abs(len(parts["test"]) / 178 - 0.3) < 0.05
    with open_store(f"sqlite:///{keel_home / 'keel.db'}") as store:
        graph = store.lineage.upstream(LineageNode("dataset_version", split.output("train").ref))
    raw_uri = (example / "data" / "wine_raw.csv").absolute().as_uri()
    assert LineageNode("source", raw_uri) in graph.nodes
    labels = {n.label for n in graph.nodes}
    assert {"wine-etl.load", "wine-etl.clean", "wine-etl.split", "wine-etl.clean/2"} <= labels
    # keel.datasets.split's own edge, next to the pipeline's
    assert "split_into" in {e.relation for e in graph.edges}
