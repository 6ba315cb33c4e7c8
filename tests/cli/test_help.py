"""``--help`` of every command, found by walking the Typer app, run as the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from keel.cli import app

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def command_paths() -> list[list[str]]:
    """Every group and command of ``keel``, as the words that name it."""

    def walk(command: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(app), [])


PATHS = command_paths()


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"", "runs", "runs list", "doctor", "models promote", "audit verify"} <= names
    assert len(names) > 30


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "keel")
def test_help_shows_no_type_after_a_flag(path: list[str]) -> None:
    proc = subprocess.run(
        [KEEL, *path, "--help"], capture_output=True, text=True, env=os.environ.copy(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage: keel" in proc.stdout
    assert "<bool>" not in proc.stdout, proc.stdout
    assert "--help" in proc.stdout  # the help option is listed, without a type
    for line in proc.stdout.splitlines():
        if "--help" in line:
            assert "<" not in line.split("--help", 1)[1].split("Show", 1)[0], line


def test_options_that_take_a_value_still_show_its_type() -> None:
    proc = subprocess.run(
        [KEEL, "runs", "list", "--help"], capture_output=True, text=True, timeout=60
    )
    line = next(line for line in proc.stdout.splitlines() if "--max" in line)
    assert "<int>" in line or "INTEGER" in line, line
