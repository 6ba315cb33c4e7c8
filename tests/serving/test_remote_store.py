"""Serving against a keel server (issue 11 §1): ``KEEL_STORE_URI=http://...``.

A real ``keel server`` holds the models, their bytes and the endpoint; ``keel serve
NAME`` on a client loads the models through the registry over HTTP (every sha256
verified), follows the stored endpoint, and writes its prediction log under the
client's ``KEEL_HOME`` (the server's artifact root keeps content-addressed objects
only). Changing the endpoint needs the maintainer role: an editor is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_server import KeelServer

from .conftest import SRC, Server
from .test_app import ROW

REGISTER = """
import keel
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
X, y = load_iris(return_X_y=True, as_frame=True)
for n in (5, 7):
    with keel.start_run(experiment="iris"):
        model = RandomForestClassifier(n_estimators=n, random_state=0).fit(X, y)
        version = keel.log_model(model, name="iris", input_example=X.head(5)).version
    keel.models.promote(version.ref, to="champion" if n == 5 else "challenger")
"""


@pytest.fixture(scope="module")
def keel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    server = KeelServer(tmp_path_factory.mktemp("server")).start(init_admin=True)
    try:
        yield server
    finally:
        server.stop()


def _client_env(server: KeelServer, home: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(
        KEEL_HOME=str(home / ".keel"),
        KEEL_STORE_URI=server.url,
        KEEL_TOKEN=token,
        KEEL_USER_CONFIG=str(home / "user-config.toml"),
        PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        OMP_WAIT_POLICY="PASSIVE",
    )
    return env


def _keel(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from keel.cli import main; main()", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _users(server: KeelServer) -> dict[str, str]:
    """An editor and a maintainer of project default: name -> token."""
    from keel.context import Context
    from keel.governance import create_token, create_user, grant_role

    tokens = {}
    admin = server.client()
    with Context(store=admin) as ctx:
        for name in ("eddie", "max"):
            create_user(name, context=ctx)
            _, tokens[name] = create_token("serving", user=name, context=ctx)
        grant_role("admin", "admin", context=ctx)  # the project's first grant: its admin
        grant_role("eddie", "editor", context=ctx)
        grant_role("max", "maintainer", context=ctx)
    admin.close()
    return tokens


def test_keel_serve_a_stored_endpoint_of_a_keel_server(
    keel_server: KeelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "client"
    home.mkdir()
    admin_env = _client_env(keel_server, home, keel_server.admin_token)
    subprocess.run(
        [sys.executable, "-c", REGISTER], env=admin_env, cwd=home, check=True, timeout=300
    )
    tokens = _users(keel_server)
    editor_env = _client_env(keel_server, home, tokens["eddie"])
    maintainer_env = _client_env(keel_server, home, tokens["max"])

    refused = _keel(editor_env, home, "endpoints", "create", "iris", "-t", "iris@champion")
    assert refused.returncode == 1
    assert "needs the maintainer role" in refused.stderr, refused.stderr
    made = _keel(
        maintainer_env,
        home,
        "endpoints",
        "create",
        "iris",
        "-t",
        "iris@champion",
        "--poll-interval-s",
        "0.3",
    )
    assert made.returncode == 0, made.stderr
    assert "resolves to iris/1" in made.stdout
    shown = _keel(editor_env, home, "endpoints", "show", "iris")  # reading needs viewer
    assert shown.returncode == 0 and "revision 1" in shown.stdout

    for key, value in editor_env.items():  # the server process reads os.environ
        monkeypatch.setenv(key, value)
    srv = Server(home, ["iris"])
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            r = http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
            assert r.status_code == 200 and r.headers["x-model-version"] == "iris/1"
            refused = _keel(editor_env, home, "endpoints", "update", "iris", "-t", "iris/2")
            assert refused.returncode == 1 and "maintainer" in refused.stderr
            changed = _keel(maintainer_env, home, "endpoints", "update", "iris", "-t", "iris/2")
            assert changed.returncode == 0, changed.stderr
            deadline = time.monotonic() + 30
            version = ""
            while time.monotonic() < deadline and version != "iris/2":
                r = http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
                assert r.status_code == 200
                version = r.headers["x-model-version"]
                time.sleep(0.05)
            assert version == "iris/2"
    finally:
        srv.stop()
    # the prediction log: on this machine, under KEEL_HOME (the server keeps objects only)
    logs = list((home / ".keel" / "serving" / "project=default" / "predictions").rglob("*.parquet"))
    assert logs, list(home.rglob("*"))
    shown = _keel(editor_env, home, "endpoints", "log", "iris", "--since", "1h")
    assert shown.returncode == 0 and "iris/2" in shown.stdout, shown.stderr
    audit = _keel(admin_env, home, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    history: Any = _keel(editor_env, home, "endpoints", "show", "iris", "--history").stdout
    assert "max" in history and "update" in history
