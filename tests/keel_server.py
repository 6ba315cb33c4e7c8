"""A real ``keel server`` in a subprocess on 127.0.0.1, for the tests that need one.

The server runs the console script the tests' Python installed (the code under test),
binds a free port on 127.0.0.1, and is stopped by its PID (SIGTERM, then SIGKILL).
``--init-admin`` prints the first administrator's token, which the harness reads from
the server's log file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KeelServer:
    """One ``keel server`` process.

    Args:
        home: the server's KEEL_HOME (its SQLite file and artifacts by default).
        store_uri: its metadata store (default: SQLite under ``home``).
        artifact_root: its artifact root (default: under ``home``).
        args: more ``keel server`` options.
        env: more environment variables.
    """

    def __init__(
        self,
        home: Path,
        store_uri: str | None = None,
        artifact_root: str | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.store_uri = store_uri or f"sqlite:///{home / 'keel.db'}"
        self.artifact_root = artifact_root
        self.args = args
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"

    def _env(self) -> dict[str, str]:
        # neither the runner's keel settings nor its cloud credentials reach a test server
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "AWS_"))}
        env.update(
            KEEL_HOME=str(self.home),
            KEEL_STORE_URI=self.store_uri,
            KEEL_USER_CONFIG=str(self.home / "user-config.toml"),
            OMP_WAIT_POLICY="PASSIVE",
        )
        if self.artifact_root:
            env["KEEL_ARTIFACT_ROOT"] = self.artifact_root
        env.update(self.extra_env)
        return env

    def start(self, *, init_admin: bool = False, timeout: float = 60.0) -> KeelServer:
        """Start it and wait until ``/health`` answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        args = [KEEL, "server", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        if init_admin:
            args.append("--init-admin")
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self._env(), cwd=self.home
        )
        log.close()
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.kill()
            raise
        if init_admin:
            lines = self.log.read_text().splitlines()
            tokens = [line.strip() for line in lines if line.strip().startswith("keel_")]
            assert tokens, f"no admin token in the server's output:\n{self.log.read_text()}"
            self.admin_token = tokens[-1]
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Wait for ``/health`` (fails with the server's log if it exits or hangs)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"keel server exited:\n{self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"keel server did not answer in {timeout} s:\n{self.log.read_text()[-4000:]}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop it by its PID (SIGKILL if it does not exit in time)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL it: no shutdown code runs."""
        self.stop(signal.SIGKILL)

    def client(self, token: str | None = None, project: str = "default") -> Any:
        """A RestStore on this server."""
        from keel.store.rest import RestStore

        store = RestStore(self.url, project, token if token is not None else self.admin_token)
        store.open()
        return store


def recorded(store: Any, actor: str) -> str:
    """The actor a store records for a change a test makes as ``actor``.

    A SQL store records whom the caller names; a keel server records the user it
    authenticated, whatever the client sends (the contract tests show both).
    """
    return str(getattr(store, "authenticated_user", actor))
