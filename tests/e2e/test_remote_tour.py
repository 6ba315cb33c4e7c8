"""The README tour against a keel server, from a client that shares no filesystem with it.

The client has its own KEEL_HOME, cache and user config, and every process it starts
runs in a mount namespace where the server's folder is covered by an empty tmpfs: it can
neither read nor write the server's database or artifacts, so everything it does goes
through HTTP. The same tour runs on the embedded store in a fresh folder, and the two
give the same results: datasets (content hashes and row counts), the split, the best
search parameters and test metrics, the promotion, the lineage and the audit verdict.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from keel_server import KeelServer
from readme_tour import KEEL, TourRun, run_tour


def _hiding(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` looks empty (or a skip where that is impossible)."""
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            'mount -t tmpfs -o size=1m keel-hidden "$0"',
            str(folder),
        ],
        capture_output=True,
        text=True,
    )
    if shutil.which("unshare") is None or probe.returncode != 0:
        message = f"cannot hide the server's folder from the client: {probe.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    script = 'mount -t tmpfs -o size=1m keel-hidden "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(folder)]


def _env(home: Path, **keel: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(
        PYTHONUNBUFFERED="1",
        KEEL_USER_CONFIG=str(home / "config.toml"),
        KEEL_CACHE_DIR=str(home / "cache"),
        **keel,
    )
    return env


def _results(tour: TourRun, env: dict[str, str], wrap: list[str]) -> dict[str, Any]:
    """What must not depend on where the store is."""

    def keel(*args: str) -> str:
        proc = subprocess.run(
            [*wrap, KEEL, *args], capture_output=True, text=True, env=env, cwd=tour.cwd, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    champion = json.loads(keel("models", "show", "iris@champion", "--json"))
    datasets = tour.outputs[2].split()  # "iris/1 150 <hash> True", then the aggregate
    lineage = tour.commands["keel lineage iris@champion"]
    return {
        "dataset": datasets[:4],
        "split": sorted(re.findall(r"iris-(?:train|test)/\d+", keel("datasets", "list"))),
        "train": tour.outputs[3].split()[1:],  # best params and test f1, not the run id
        "champion": (champion["version"], champion["status"]),
        "lineage": sorted(set(re.findall(r"iris[\w./-]*", lineage))),
        "audit": "intact" in tour.commands["keel audit verify"],
    }


def _run_ids(env: dict[str, str]) -> Any:
    def ids(cwd: Path) -> list[str]:
        import keel
        from keel.config import Settings

        settings = Settings(
            store_uri=env.get("KEEL_STORE_URI") or f"sqlite:///{cwd / '.keel' / 'keel.db'}",
            token=env.get("KEEL_TOKEN"),
            home=cwd / ".keel",
            cache_dir=Path(env["KEEL_CACHE_DIR"]),
        )
        client = keel.Client(settings=settings)
        try:
            return [r.id for r in client.search_runs("tour", order_by=["start_time"])]
        finally:
            client.close()

    return ids


@pytest.mark.slow
def test_the_tour_against_a_server_gives_the_embedded_results(tmp_path: Path) -> None:
    server = KeelServer(tmp_path / "server").start(init_admin=True)
    try:
        hide = _hiding(server.home)
        client_home = tmp_path / "client"
        client_home.mkdir()
        remote_env = _env(client_home, KEEL_STORE_URI=server.url, KEEL_TOKEN=server.admin_token)
        remote = run_tour(client_home, remote_env, _run_ids(remote_env), wrap=hide)
        remote_results = _results(remote, remote_env, hide)
        # the client wrote nothing of the store's on its side: no database, no artifacts
        assert not list(client_home.rglob("keel.db"))
        assert (server.home / "keel.db").exists()
    finally:
        server.stop()

    local_home = tmp_path / "local"
    local_home.mkdir()
    local_env = _env(local_home)
    local = run_tour(local_home, local_env, _run_ids(local_env))
    assert remote_results == _results(local, local_env, [])
    assert remote_results["audit"] and remote_results["champion"][0] == 1
