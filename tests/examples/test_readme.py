"""The README's tour runs as written: every Python block and every shell command, in order.

It runs where a user runs it: after ``make demo`` (whose registry demo has used the
tour's names in the same folder), following the tour's own ``cd``. Every code block
of the tour is run; none can be skipped by a missing marker.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from readme_tour import KEEL, README, run_tour, tour_blocks, tour_text

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "07-registry" / "registry_demo.py"


def test_every_code_block_of_the_tour_is_run() -> None:
    """Each fenced block of the tour is one the tour test runs (so none is skipped)."""
    tour = tour_text()
    fences = [m.start() for m in re.finditer(r"^```", tour, re.M)]
    openings = fences[::2]  # a block opens and closes with a fence
    assert len(fences) % 2 == 0 and openings, "the README has no tour, or an unclosed block"
    unmarked = [
        tour[start : tour.index("\n", start)]
        for start in openings
        if not tour[:start].rstrip().endswith(("<!-- tour:python -->", "<!-- tour:shell -->"))
    ]
    assert not unmarked, f"tour blocks without a <!-- tour:... --> marker: {unmarked}"
    assert len(tour_blocks()) == len(openings)
    assert {kind for kind, _ in tour_blocks()} == {"python", "shell"}


def _keel(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def _local_run_ids(cwd: Path) -> list[str]:
    import keel

    client = keel.Client(store_uri=f"sqlite:///{cwd / '.keel' / 'keel.db'}")
    try:
        return [r.id for r in client.search_runs("tour", order_by=["start_time"])]
    finally:
        client.close()


@pytest.mark.slow
def test_readme_tour_runs_after_the_demo_in_its_own_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["PYTHONUNBUFFERED"] = "1"
    repo = tmp_path / "repo"  # where `make demo` runs: its ./.keel holds iris, iris-train...
    repo.mkdir()
    demo = subprocess.run(
        [sys.executable, str(DEMO)], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    demo_versions = _keel(["models", "versions", "iris"], repo, env).stdout

    tour = run_tour(repo, env, _local_run_ids)
    assert (
        "rf-100"
        in tour.commands['keel runs list --experiment tour --filter "metrics.accuracy > 0.9"']
    )
    lineage = tour.commands["keel lineage iris@champion"]
    assert "iris.csv" in lineage and "iris-train/1" in lineage
    # the demo's store is as the demo left it...
    assert _keel(["models", "versions", "iris"], repo, env).stdout == demo_versions
    # ...because the tour ran in a folder of its own, where its promotion happened
    assert tour.cwd != repo and (tour.cwd / ".keel" / "keel.db").exists()
    champion = _keel(["models", "show", "iris@champion", "--json"], tour.cwd, env)
    assert champion.returncode == 0 and '"version": 1' in champion.stdout


@pytest.mark.parametrize(
    "path", [*sorted((README.parent / "docs").rglob("*.md")), README], ids=lambda p: p.name
)
def test_docs_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"
