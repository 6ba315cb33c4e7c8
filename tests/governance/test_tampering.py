"""An alias moved behind keel's back, end to end on SQLite and PostgreSQL.

The refused model is made champion with a direct ``UPDATE`` of ``model_aliases``; the
SDK and the CLI must both notice (``keel audit verify`` exits 1 naming the row;
loading ``iris@champion`` is refused naming both versions), and an admin's forced
promotion of the audited version restores a store that verifies again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import keel
from keel.errors import ConflictError
from keel.gates import parse_policy

KEEL = Path(sys.executable).with_name("keel")
POLICY = parse_policy("checks:\n  - metric: f1_macro >= 0.9\n")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, keel_home: Path) -> Iterator[tuple[Any, str]]:
    """A Client on each backend, installed for the fluent API, and its store URI."""
    from keel.config import Settings
    from keel.tracking import Client, reset_client, set_client

    uri = (
        f"sqlite:///{keel_home / 'keel.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_schema_uri")
    )
    client = Client(settings=Settings(home=keel_home, store_uri=uri, actor="alice"))
    token = set_client(client)
    try:
        yield client, uri
    finally:
        reset_client(token)
        client.close()


def _keel(uri: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "KEEL_STORE_URI": uri, "KEEL_ACTOR": "alice"}
    return subprocess.run(
        [str(KEEL), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _register(f1: float, iris_xy: Any) -> int:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris_xy
    with keel.start_run(experiment="iris"):
        keel.log_metric("f1_macro", f1)
        model = DecisionTreeClassifier(max_depth=1 if f1 < 0.9 else 3, random_state=0)
        info = keel.log_model(model.fit(X, y), name="iris", input_example=X.head(3), onnx=False)
    return int(info.version.version)


def test_alias_moved_in_the_database_is_caught_and_refused(
    backend: tuple[Any, str], keel_home: Path, iris_xy: Any
) -> None:
    client, uri = backend
    good, bad = _register(0.95, iris_xy), _register(0.5, iris_xy)
    assert keel.models.promote("iris", good, to="champion", policy=POLICY).status == "promoted"
    assert keel.models.promote("iris", bad, to="champion", policy=POLICY).status == "rejected"
    assert keel.governance.verify().ok

    with client.store.database.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE model_aliases SET version = :v WHERE alias = 'champion'"), {"v": bad}
        )

    assert not keel.governance.verify().ok
    with pytest.raises(ConflictError, match=f"points to version {bad} in the model_aliases") as e:
        keel.models.load("iris@champion")
    assert f"says version {good}" in str(e.value)

    verify = _keel(uri, keel_home, "audit", "verify")
    assert verify.returncode == 1, verify.stdout
    assert "audit chain intact" not in verify.stdout
    assert (
        f"model_aliases row iris@champion: version is {bad} in the table, but the audit chain "
        f"says {good}"
    ) in " ".join(verify.stderr.split())
    assert "Traceback" not in verify.stderr
    shown = _keel(uri, keel_home, "models", "show", "iris@champion")
    assert shown.returncode == 1 and "behind keel's back" in shown.stderr
    assert "Traceback" not in shown.stderr

    # A plain promotion does not build on the tampered holder; an admin's forced one restores.
    with pytest.raises(ConflictError, match="changed behind keel's back"):
        keel.models.promote("iris", good, to="champion", policy=POLICY)
    keel.governance.grant_role("alice", "admin")
    restored = keel.models.promote(
        f"iris/{good}", to="champion", policy=POLICY, force=True, reason="restore after tampering"
    )
    assert restored.status == "forced"
    assert keel.governance.verify().ok
    assert keel.models.get("iris@champion").version == good
    event = keel.governance.list_events("iris@champion")[-1]
    assert event.before == {"version": bad} and event.after["version"] == good
    with pytest.raises(ConflictError, match="no previous holder"):
        keel.models.rollback("iris@champion")  # the restore is not a holder to roll back to
    assert _keel(uri, keel_home, "audit", "verify").returncode == 0


def test_a_role_written_or_deleted_in_the_database_gives_no_power(
    backend: tuple[Any, str], iris_xy: Any
) -> None:
    client, _ = backend
    from keel.tracking import Client

    _register(0.5, iris_xy)
    keel.governance.grant_role("alice", "admin")
    mallory = Client(settings=client.settings.model_copy(update={"actor": "mallory"}))
    try:
        with client.store.database.engine.begin() as conn:
            conn.execute(
                sa.text(
                    'INSERT INTO roles ("user", role, granted_by, granted_at) '
                    "VALUES ('mallory', 'admin', 'alice', 0)"
                )
            )
        assert keel.governance.is_admin("mallory", context=mallory.context)  # the table says so...
        with pytest.raises(ConflictError, match="no audit event granted it"):
            keel.models.promote(
                "iris/1",
                to="champion",
                policy=POLICY,
                force=True,
                reason="x",
                context=mallory.context,
            )
        with client.store.database.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM roles"))
        # ...and with every admin row deleted, the first-admin bootstrap stays closed.
        with pytest.raises(ConflictError, match="audit chain says 'alice' holds admin"):
            keel.governance.grant_role("mallory", "admin", context=mallory.context)
        assert keel.governance.list_roles() == []
        problems = keel.governance.verify().problems
        assert any("roles has no row alice:admin" in p for p in problems)
    finally:
        mallory.close()
