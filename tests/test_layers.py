"""The layers of ARCHITECTURE.md hold, and an import that goes up a layer breaks the build.

``make lint`` / ``make test`` run ``lint-imports`` on the contracts in pyproject.toml;
this test runs it too, on the tree and on a copy with one upward import added.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=src.parent,
        env={"PYTHONPATH": str(src), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_hold() -> None:
    done = _lint(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("store/_open.py", "from keel.tracking import Client", "dependencies point down only"),
        ("data/_names.py", "import keel", "not the user-facing facades"),
        ("registry/_uri.py", "import keel.sklearn", "only through register_format"),
    ],
)
def test_an_upward_import_breaks_the_build(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "keel", src / "keel", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = src / "keel" / module
    target.write_text(target.read_text() + f"\n\ndef _upward() -> None:\n    {line}  # noqa\n")
    done = _lint(src)
    assert done.returncode != 0
    assert f"{broken} BROKEN" in done.stdout.replace("\n", " "), done.stdout
