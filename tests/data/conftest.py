"""Fixtures of the dataset tests: the real ``keel datasets`` command, and clients on other stores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


@pytest.fixture
def datasets_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``keel datasets ARGS...`` as a user would; ``env=`` adds variables."""

    def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KEEL, "datasets", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
        )

    return run


@pytest.fixture
def install_client() -> Iterator[Callable[..., Any]]:
    """Install a Client on the given settings as the fluent API's client, for the test."""
    from keel.config import Settings
    from keel.tracking import Client, reset_client, set_client

    installed: list[tuple[Client, Any]] = []

    def install(settings: Settings) -> Client:
        client = Client(settings=settings)
        installed.append((client, set_client(client)))
        return client

    yield install
    for client, token in reversed(installed):
        reset_client(token)
        client.close()
