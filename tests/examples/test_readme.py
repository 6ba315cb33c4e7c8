"""The README's tour runs as written: every Python block and every shell command, in order."""

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


def _blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(README.read_text())


def test_readme_has_a_tour() -> None:
    kinds = [k for k, _ in _blocks()]
    assert kinds.count("python") >= 4 and kinds.count("shell") >= 2


def _run_shell_block(code: str, env: dict[str, str]) -> None:
    import keel

    ids = list(keel.search_runs("tour", order_by=["start_time"]).run_id)
    keel_bin = shutil.which("keel", path=str(Path(sys.executable).parent))
    assert keel_bin
    for line in code.splitlines():
        line = line.split("  #")[0].strip()
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
        if "lineage" in line:
            assert "iris.csv" in proc.stdout and "iris-train/1" in proc.stdout


@pytest.mark.slow
def test_readme_tour_runs(keel_home: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for kind, code in _blocks():
        if kind == "python":
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
            )
            assert proc.returncode == 0, f"README block failed:\n{code}\n{proc.stderr}"
        else:
            _run_shell_block(code, env)


@pytest.mark.parametrize(
    "path", [*sorted((README.parent / "docs").rglob("*.md")), README], ids=lambda p: p.name
)
def test_docs_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"
