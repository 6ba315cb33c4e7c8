"""Module-level tasks for the executor tests (worker processes import them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise ValueError(message)


def pid(_: object = None) -> int:
    return os.getpid()


def rendezvous(folder: str, me: str, other: str) -> str:
    """Wait until the other task has started too: only possible if both run at once."""
    Path(folder, me).touch()
    deadline = time.monotonic() + 60
    while not Path(folder, other).exists():
        if time.monotonic() > deadline:
            return "alone"
        time.sleep(0.01)
    return "together"
