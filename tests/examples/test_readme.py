"""Every Python block of the README's tour runs, and every shell command in it works."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- tour:(python|shell) -->\s*```(?:python|bash)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[str]:
    return [code for k, code in BLOCK.findall(README.read_text()) if k == kind]


def test_readme_has_a_tour() -> None:
    assert len(_blocks("python")) >= 2 and _blocks("shell")


def test_readme_tour_runs(keel_home: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for code in _blocks("python"):
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 0, f"README block failed:\n{code}\n{proc.stderr}"

    import keel

    runs = keel.search_runs("tour", order_by=["start_time"])
    ids = list(runs.run_id)
    keel_bin = shutil.which("keel", path=str(Path(sys.executable).parent))
    assert keel_bin
    for line in _blocks("shell")[0].splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        line = line.replace("<run id or a unique prefix>", ids[0][:8])
        line = line.replace("<id> <id>", f"{ids[0]} {ids[1]}")
        args = shlex.split(line)
        assert args[0] == "keel"
        proc = subprocess.run(
            [keel_bin, *args[1:]], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, f"{line}: {proc.stderr}"
        if "runs list" in line:
            assert "rf-100" in proc.stdout


@pytest.mark.parametrize(
    "path", sorted((README.parent / "docs").rglob("*.md")), ids=lambda p: p.name
)
def test_docs_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#]+\.md)\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"
