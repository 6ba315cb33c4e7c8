"""The README's five-minute tour as a program: its blocks, and a runner for them.

Shared by tests/examples/test_readme.py (the tour on the embedded store, after the demo)
and tests/e2e/test_remote_tour.py (the tour against a keel server, from a client that
cannot see the server's files). The runner runs every Python block and every shell
command in order, in the folder the tour's own ``cd`` leads to, and returns what each
printed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- tour:(python|shell) -->\s*```(?:python|bash)\n(.*?)```", re.S)
KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def tour_text() -> str:
    """The README's tour section."""
    text = README.read_text()
    start = text.index("## Five-minute tour")
    return text[start : text.index("\n## ", start + 1)]


def tour_blocks() -> list[tuple[str, str]]:
    """``(kind, code)`` of every marked block of the tour, in order."""
    return BLOCK.findall(tour_text())


@dataclass
class TourRun:
    """What a run of the tour printed, and where it ended."""

    cwd: Path
    outputs: list[str] = field(default_factory=list)
    commands: dict[str, str] = field(default_factory=dict)


def run_tour(
    cwd: Path,
    env: dict[str, str],
    run_ids: Callable[[Path], Sequence[str]],
    wrap: Sequence[str] = (),
) -> TourRun:
    """Run the whole tour; assert that every block and command succeeds.

    Args:
        cwd: where to start (the tour ``cd``s into its own folder).
        env: the environment of every process.
        run_ids: the ids of the tour experiment's runs, oldest first, for the commands
            the README writes with placeholders (``<run id>``).
        wrap: a command prefix every process runs under (e.g. one that hides folders).
    """
    result = TourRun(cwd)
    for kind, code in tour_blocks():
        if kind == "python":
            proc = _run([*wrap, sys.executable, "-c", code], result.cwd, env)
            assert proc.returncode == 0, f"README block failed:\n{code}\n{proc.stderr[-4000:]}"
            result.outputs.append(proc.stdout)
        else:
            _shell_block(code, result, env, run_ids, wrap)
    return result


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def _shell_block(
    code: str,
    result: TourRun,
    env: dict[str, str],
    run_ids: Callable[[Path], Sequence[str]],
    wrap: Sequence[str],
) -> None:
    for line in code.splitlines():
        line = line.split("  #")[0].strip()
        if not line:
            continue
        for command in line.split("&&"):
            args = shlex.split(command)
            if args[0] in (".", "source"):
                continue  # activating the venv: the test already runs in it
            if args[:2] == ["mkdir", "-p"]:
                (result.cwd / args[2]).mkdir(parents=True, exist_ok=True)
                continue
            if args[0] == "cd":
                result.cwd = (result.cwd / args[1]).resolve()
                continue
            assert args[0] == "keel", f"the tour runner does not know {command!r}"
            if "<" in command:
                ids = run_ids(result.cwd)
                text = command.replace("<run id or a unique prefix>", ids[0][:8])
                args = shlex.split(text.replace("<id> <id>", f"{ids[0]} {ids[1]}"))
            proc = _run([*wrap, KEEL, *args[1:]], result.cwd, env)
            assert proc.returncode == 0, f"{command}: {proc.stderr}"
            result.commands[command.strip()] = proc.stdout
