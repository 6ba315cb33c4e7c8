"""Materialize and look features up with the metadata on a keel server
(``KEEL_STORE_URI=http://...``): definitions and dataset bytes come from the server, the
online store is the client's own (SQLite under its keel home, or Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel_server import KeelServer

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = """
import json, pandas as pd, keel.datasets, keel.features as kf
keel.datasets.register(pd.DataFrame({
    "customer_id": [1, 1, 2], "amount": [1.0, 2.0, 5.0],
    "ts": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"], utc=True)}), "spend-raw")
kf.apply([
    kf.Entity(name="customer", join_keys={"customer_id": "int64"}),
    kf.FeatureView(name="spend", entities=["customer"], timestamp="ts",
                   source={"dataset": "spend-raw"}, features={"amount": "float64"}),
])
report = kf.materialize()
out = kf.get_online_features([{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}],
                             ["spend:amount"])
print(json.dumps({"online_store": report.online_store, "rows": report.rows,
                  "amount": out.values["amount"]}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    srv = KeelServer(tmp_path_factory.mktemp("server")).start(init_admin=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def editor_token(server: KeelServer) -> str:
    """A token of 'eve', an editor of the server's default project."""
    from keel.context import Context
    from keel.governance import create_token, create_user, grant_role

    admin = server.client()
    with Context(store=admin) as ctx:
        grant_role("admin", "admin", context=ctx)
        create_user("eve", context=ctx)
        _, token = create_token("online", user="eve", context=ctx)
        grant_role("eve", "editor", context=ctx)
    admin.close()
    return token


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_materialize_and_look_up_through_a_server(
    server: KeelServer,
    editor_token: str,
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    home = tmp_path / "client"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(
        KEEL_HOME=str(home / ".keel"),
        KEEL_STORE_URI=server.url,
        KEEL_TOKEN=editor_token,
        KEEL_USER_CONFIG=str(home / "user-config.toml"),
        PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        OMP_WAIT_POLICY="PASSIVE",
    )
    if backend == "redis":
        env["KEEL_ONLINE_STORE"] = request.getfixturevalue("redis_online_uri")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("spend-raw", f"spend-raw-{backend}")],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["rows"] == 2 and result["amount"] == [2.0, 5.0, None]
    if backend == "sqlite":
        assert result["online_store"] == f"sqlite:///{home / '.keel' / 'online.db'}"
    else:
        assert result["online_store"].startswith("redis://127.0.0.1:6379/")
