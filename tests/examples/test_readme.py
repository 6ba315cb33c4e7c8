"""The README's tour runs as written: every Python block and every shell command, in order.

It runs where a user runs it: after ``make demo`` (whose registry demo has used the
tour's names in the same folder), following the tour's own ``cd``. Every code block
of the tour is run; none can be skipped by a missing marker.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO = ROOT / "examples" / "07-registry" / "registry_demo.py"
BLOCK = re.compile(r"<!-- tour:(python|shell) -->\s*```(?:python|bash)\n(.*?)```", re.S)


def _tour_text() -> str:
    text = README.read_text()
    start = text.index("## Five-minute tour")
    return text[start : text.index("\n## ", start + 1)]


def _blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(_tour_text())


def test_every_code_block_of_the_tour_is_run() -> None:
    """Each fenced block of the tour is one the tour test runs (so none is skipped)."""
    tour = _tour_text()
    fences = [m.start() for m in re.finditer(r"^```", tour, re.M)]
    openings = fences[::2]  # a block opens and closes with a fence
    assert len(fences) % 2 == 0 and openings, "the README has no tour, or an unclosed block"
    unmarked = [
        tour[start : tour.index("\n", start)]
        for start in openings
        if not tour[:start].rstrip().endswith(("<!-- tour:python -->", "<!-- tour:shell -->"))
    ]
    assert not unmarked, f"tour blocks without a <!-- tour:... --> marker: {unmarked}"
    assert len(_blocks()) == len(openings)
    assert {kind for kind, _ in _blocks()} == {"python", "shell"}


def _keel(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keel_bin = shutil.which("keel", path=str(Path(sys.executable).parent))
    assert keel_bin
    return subprocess.run(
        [keel_bin, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def _run_shell_block(code: str, cwd: Path, env: dict[str, str]) -> Path:
    """Run a shell block's commands (keel, mkdir -p, cd); returns the folder it ends in."""
    import keel

    for line in code.splitlines():
        line = line.split("  #")[0].strip()
        if not line:
            continue
        for command in line.split("&&"):
            args = shlex.split(command)
            if args[0] in (".", "source"):
                continue  # activating the venv: the test already runs in it
            if args[:2] == ["mkdir", "-p"]:
                (cwd / args[2]).mkdir(parents=True, exist_ok=True)
                continue
            if args[0] == "cd":
                cwd = (cwd / args[1]).resolve()
                continue
            assert args[0] == "keel", f"the tour runner does not know {command!r}"
            if "<" in command:
                client = keel.Client(store_uri=f"sqlite:///{cwd / '.keel' / 'keel.db'}")
                ids = [r.id for r in client.search_runs("tour", order_by=["start_time"])]
                client.close()
                text = command.replace("<run id or a unique prefix>", ids[0][:8])
                args = shlex.split(text.replace("<id> <id>", f"{ids[0]} {ids[1]}"))
            proc = _keel(args[1:], cwd, env)
            assert proc.returncode == 0, f"{command}: {proc.stderr}"
            if "runs list" in command:
                assert "rf-100" in proc.stdout
            if "lineage" in command:
                assert "iris.csv" in proc.stdout and "iris-train/1" in proc.stdout
    return cwd


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

    cwd = repo
    for kind, code in _blocks():
        if kind == "python":
            proc = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=600,
            )
            assert proc.returncode == 0, f"README block failed:\n{code}\n{proc.stderr}"
        else:
            cwd = _run_shell_block(code, cwd, env)
    # the demo's store is as the demo left it...
    assert _keel(["models", "versions", "iris"], repo, env).stdout == demo_versions
    # ...because the tour ran in a folder of its own, where its promotion happened
    assert cwd != repo and (cwd / ".keel" / "keel.db").exists()
    champion = _keel(["models", "show", "iris@champion", "--json"], cwd, env)
    assert champion.returncode == 0 and '"version": 1' in champion.stdout


@pytest.mark.parametrize(
    "path", [*sorted((README.parent / "docs").rglob("*.md")), README], ids=lambda p: p.name
)
def test_docs_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"
