"""Fixtures of the serving tests: registered models, an in-process app, a real server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def iris_champion(register_model: Callable[..., Any]) -> Any:
    """iris/1 (a 5-tree forest with its ONNX export) behind iris@champion."""
    import keel

    version = register_model("iris")
    keel.models.promote(version.ref, to="champion")
    return version


def run(coro: Any) -> Any:
    """Run a coroutine to completion (the tests are synchronous)."""
    return asyncio.run(coro)


@contextlib.asynccontextmanager
async def serving(app: Any) -> Any:
    """Start the app, give an httpx client on it, stop it."""
    import httpx

    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://keel") as http:
            yield http
    finally:
        await app.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REGISTER = """
import keel
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
X, y = load_iris(return_X_y=True, as_frame=True)
with keel.start_run(experiment="iris"):
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    v = keel.log_model(model, name="iris", input_example=X.head(5)).version
keel.models.promote(v.ref, to="champion")
"""


class Server:
    """``keel serve`` in a subprocess on 127.0.0.1 (stopped by its PID only)."""

    def __init__(self, home: Path, args: list[str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **keel_env(home)}
        self.log_path = home / "server.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from keel.cli import main; main()",
                "serve",
                *args,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=home,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keel serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"keel serve did not start: {self.log_path.read_text()[-2000:]}")

    def rss_bytes(self) -> int:
        import psutil

        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def stop(self, sig: int | None = None) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)


def keel_env(home: Path) -> dict[str, str]:
    return {
        "KEEL_HOME": str(home / ".keel"),
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def registered_home(home: Path) -> Path:
    """A keel home with iris@champion registered (in a subprocess: module fixtures cannot
    use the per-test home)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    subprocess.run(
        [sys.executable, "-c", REGISTER],
        env={**env, **keel_env(home)},
        cwd=home,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home


@pytest.fixture(scope="module")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registered_home(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def server(served_home: Path) -> Iterator[Server]:
    """One real ``keel serve iris@champion`` per test module."""
    srv = Server(served_home, ["iris@champion"])
    try:
        yield srv
    finally:
        srv.stop()
