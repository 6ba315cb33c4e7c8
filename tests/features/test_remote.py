"""The feature store against a keel server (``KEEL_STORE_URI=http://...``): an editor
applies declarations and builds training data on a client (the dataset bytes come from
the server), the registered training data has its lineage on the server; a viewer
cannot apply."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel_server import KeelServer

SRC = str(Path(__file__).resolve().parents[2] / "src")

DECLARATIONS = """\
entities:
  - name: customer
    join_keys: {customer_id: int64}
feature_views:
  - name: spend
    entities: [customer]
    timestamp: ts
    source: {dataset: spend-raw}
    features: {amount: float64}
"""

SCRIPT = """
import pandas as pd, keel.datasets, keel.features as kf
keel.datasets.register(pd.DataFrame({
    "customer_id": [1, 1, 2], "amount": [1.0, 2.0, 5.0],
    "ts": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"], utc=True)}), "spend-raw")
print(kf.apply("features.yaml").summary())
events = pd.DataFrame({"customer_id": [1, 2, 3],
                       "event_timestamp": pd.to_datetime(["2024-01-02"] * 3, utc=True)})
result = kf.get_historical_features(events, ["spend:amount"])
print(result.to_pandas()["amount"].fillna(-1).tolist())
print(result.register("spend-train").reference)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    srv = KeelServer(tmp_path_factory.mktemp("server")).start(init_admin=True)
    try:
        yield srv
    finally:
        srv.stop()


def _env(server: KeelServer, home: Path, token: str) -> dict[str, str]:
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


def _tokens(server: KeelServer) -> dict[str, str]:
    from keel.context import Context
    from keel.governance import create_token, create_user, grant_role

    tokens = {}
    admin = server.client()
    with Context(store=admin) as ctx:
        grant_role("admin", "admin", context=ctx)  # the project's first grant: its admin
        for name, role in (("eve", "editor"), ("vic", "viewer")):
            create_user(name, context=ctx)
            _, tokens[name] = create_token("features", user=name, context=ctx)
            grant_role(name, role, context=ctx)
    admin.close()
    return tokens


def test_apply_and_historical_features_through_a_server(server: KeelServer, tmp_path: Path) -> None:
    tokens = _tokens(server)
    home = tmp_path / "client"
    home.mkdir()
    (home / "features.yaml").write_text(DECLARATIONS)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=_env(server, home, tokens["eve"]),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-3] == "2 added, 0 changed, 0 removed, 0 unchanged"
    assert lines[-2] == "[1.0, 5.0, -1.0]"
    assert lines[-1] == "spend-train/1"
    (home / "features.yaml").write_text(DECLARATIONS.replace("ts\n", "ts\n    ttl: 1d\n"))
    viewer = subprocess.run(
        [
            sys.executable,
            "-c",
            "from keel.cli import main; main()",
            "features",
            "apply",
            "features.yaml",
        ],
        env=_env(server, home, tokens["vic"]),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert viewer.returncode == 1 and "editor" in viewer.stderr, viewer.stderr
    # on the server: the definitions, their audit events and the lineage
    from keel.governance._verify import verify_store
    from keel.store import LineageNode

    admin = server.client()
    try:
        (view,) = admin.features.list_definitions("feature_view")
        assert (view.name, view.version, view.created_by) == ("spend", 1, "eve")
        train = admin.datasets.get_version("spend-train", None)
        graph = admin.lineage.upstream(LineageNode("dataset_version", train.id))
        relations = {(e.source.kind, e.relation) for e in graph.edges}
        assert ("feature_view", "features_into") in relations
        assert ("dataset_version", "source_of") in relations
        assert not verify_store(admin).problems
    finally:
        admin.close()
