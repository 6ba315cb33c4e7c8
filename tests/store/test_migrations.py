"""Migrations into projects, on SQLite and PostgreSQL.

A store is built with the schema of before projects (every branch's ``0001``
revision, through alembic) and filled the way that keel filled it; opening it with
this keel migrates it. Everything must then be in project ``default``, readable as
before, ``keel audit verify`` must still pass (event hashes do not cover the project),
and ``project_objects`` must hold every object the data references.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.governance._verify import verify_store
from keel.store import (
    CheckResult,
    GateResult,
    LineageNode,
    RunStatus,
    open_store,
)
from keel.store._audit import GENESIS_HASH, canonical_json, event_hash
from keel.store._sql._database import Database, expected_heads, run_migrations
from keel.store._sql._registry_audit import gate_from_row, version_from_row

BEFORE_PROJECTS = (
    "tracking_0001",
    "datasets_0001",
    "registry_0001",
    "lineage_0001",
    "pipelines_0001",
    "audit_0001",
)


def sha(c: str) -> str:
    return c * 64


@pytest.fixture(params=["sqlite", "postgres"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield request.getfixturevalue("pg_schema_uri")


class _Chain:
    """Appends events the way keel did before projects (one chain, head row id 1)."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.seq, self.prev = conn, 0, GENESIS_HASH

    def append(self, actor: str, action: str, otype: str, oid: str, **kw: Any) -> None:
        self.seq += 1
        content = {
            "seq": self.seq,
            "time": 1_000 + self.seq,
            "actor": actor,
            "action": action,
            "object_type": otype,
            "object_id": oid,
            "before": kw.get("before"),
            "after": kw.get("after"),
            "reason": kw.get("reason"),
            "prev_hash": self.prev,
        }
        digest = event_hash(content)
        row = {**content, "hash": digest}
        for key in ("before", "after"):
            row[key] = None if row[key] is None else canonical_json(row[key])
        self.conn.execute(
            sa.text(
                "INSERT INTO audit_events (seq, time, actor, action, object_type, object_id, "
                '"before", "after", reason, prev_hash, hash) VALUES (:seq, :time, :actor, '
                ":action, :object_type, :object_id, :before, :after, :reason, :prev_hash, :hash)"
            ),
            row,
        )
        self.conn.execute(
            sa.text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
            {"s": self.seq, "h": digest},
        )
        self.prev = digest


def _insert(conn: Connection, table: str, **values: Any) -> None:
    columns = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join(f":{k}" for k in values)
    conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)


def _fill_the_old_way(conn: Connection) -> None:
    """What keel wrote before projects: a run, datasets, a registered and promoted model,
    a pipeline run with outputs, lineage, role grants and their audit events."""
    _insert(conn, "experiments", id="e1", name="iris", created_at=1)
    _insert(conn, "experiment_tags", experiment_id="e1", key="team", value="a")
    for run_id, parent in (("r1", None), ("r2", "r1")):
        _insert(
            conn,
            "runs",
            id=run_id,
            experiment_id="e1",
            name=f"run-{run_id}",
            status="FINISHED",
            start_time=10,
            end_time=20,
            parent_run_id=parent,
            user="alice",
            error=None,
        )
    _insert(conn, "run_params", run_id="r1", key="n", value="5")
    _insert(conn, "run_tags", run_id="r1", key="kind", value="rf")
    for step, value in ((0, 0.5), (1, 0.9)):
        _insert(
            conn,
            "metrics",
            run_id="r1",
            key="acc",
            step=step,
            timestamp=11,
            value=value,
            is_nan=False,
        )
    _insert(
        conn,
        "latest_metrics",
        run_id="r1",
        key="acc",
        step=1,
        timestamp=11,
        value=0.9,
        is_nan=False,
    )
    _insert(
        conn,
        "run_artifacts",
        run_id="r1",
        path="model/model.skops",
        sha256=sha("a"),
        size=3,
        created_at=12,
    )

    _insert(conn, "datasets", name="iris", created_at=1)
    for number, digest in ((1, sha("b")), (2, sha("c"))):
        _insert(
            conn,
            "dataset_versions",
            id=f"dv{number}",
            name="iris",
            version=number,
            content_hash=digest,
            size_bytes=10,
            num_rows=3,
            schema_json="{}",
            profile_json="{}",
            validation_json=None,
            valid=True,
            source_uri="file:///iris.csv",
            description=None,
            tags_json="{}",
            parent_ids_json="[]",
            derivation_json=None,
            created_by="alice",
            created_at=number,
        )

    chain = _Chain(conn)
    _insert(
        conn, "registered_models", name="iris", created_at=1, created_by="alice", description=""
    )
    chain.append(
        "alice", "registered_model.create", "registered_model", "iris", after={"name": "iris"}
    )
    version = {
        "name": "iris",
        "version": 1,
        "run_id": "r1",
        "flavor": "sklearn",
        "format": "skops",
        "status": "READY",
        "created_at": 2,
        "created_by": "alice",
        "description": "",
        "signature": "{}",
        "metrics": json.dumps({"acc": 0.9}),
        "datasets": json.dumps(["dv1"]),
        "details": "{}",
    }
    files = [
        {"name": "iris", "version": 1, "path": "model/model.skops", "sha256": sha("a"), "size": 3, "role": "model"},
        {"name": "iris", "version": 1, "path": "model/keel-model.json", "sha256": sha("d"), "size": 2, "role": "descriptor"},
    ]  # fmt: skip
    _insert(conn, "model_versions", **version)
    for f in files:
        _insert(conn, "model_version_files", **f)
    chain.append(
        "alice",
        "model_version.register",
        "model_version",
        "iris/1",
        after={
            "run_id": "r1",
            "flavor": "sklearn",
            "format": "skops",
            "files": {f["path"]: f["sha256"] for f in files},
            "datasets": ["dv1"],
            "digest": version_from_row(version, files).digest(),
        },
    )
    gate = GateResult(
        "g" * 32, "iris", 1, "champion", True, (CheckResult("metric: acc >= 0.8", 0.9, "acc >= 0.8", True, ""),), {"name": "p"}, 3, "alice"
    )  # fmt: skip
    gate_row = {
        "id": gate.id,
        "name": "iris",
        "version": 1,
        "alias": "champion",
        "passed": True,
        "forced": False,
        "reason": None,
        "checks": json.dumps([{"check": "metric: acc >= 0.8", "value": 0.9, "bound": "acc >= 0.8", "passed": True, "detail": ""}]),
        "policy": json.dumps({"name": "p"}),
        "created_at": 3,
        "actor": "alice",
    }  # fmt: skip
    _insert(conn, "gate_results", **gate_row)
    _insert(
        conn,
        "model_aliases",
        name="iris",
        alias="champion",
        version=1,
        revision=1,
        updated_at=3,
        updated_by="alice",
    )
    _insert(
        conn,
        "model_alias_history",
        name="iris",
        alias="champion",
        from_version=None,
        to_version=1,
        action="promote",
        actor="alice",
        time=3,
        reason=None,
        gate_result_id=gate.id,
    )
    chain.append(
        "alice",
        "alias.promote",
        "alias",
        "iris@champion",
        after={
            "version": 1,
            "gate_result": gate.id,
            "checks": {"metric: acc >= 0.8": "passed"},
            "gate_digest": gate_from_row(gate_row).digest(),
        },
    )
    _insert(conn, "roles", user="alice", role="admin", granted_by="alice", granted_at=4)
    chain.append(
        "alice", "role.grant", "role", "alice:admin", after={"user": "alice", "role": "admin"}
    )

    for kind, node_id, label in (
        ("dataset_version", "dv1", "iris@1"),
        ("run", "r1", "rf"),
        ("model_version", "iris/1", "iris/1"),
    ):
        _insert(conn, "lineage_nodes", kind=kind, id=node_id, label=label)
    _insert(
        conn,
        "lineage_edges",
        src_kind="dataset_version",
        src_id="dv1",
        dst_kind="run",
        dst_id="r1",
        relation="trained_on",
        created_at=5,
    )
    _insert(
        conn,
        "lineage_edges",
        src_kind="run",
        src_id="r1",
        dst_kind="model_version",
        dst_id="iris/1",
        relation="produced",
        created_at=6,
    )

    _insert(
        conn,
        "pipeline_runs",
        id="p1",
        pipeline_name="etl",
        status="FINISHED",
        params="{}",
        user="alice",
        executor="sequential",
        start_time=7,
        end_time=8,
    )
    outputs = [
        {"name": "x", "kind": "json", "ref": sha("e"), "content_hash": sha("e"), "label": "", "python_type": "json"},
        {"name": "t", "kind": "dataset", "ref": "dv2", "content_hash": sha("c"), "label": "", "python_type": "pandas"},
    ]  # fmt: skip
    _insert(
        conn,
        "step_runs",
        id="s1",
        pipeline_run_id="p1",
        name="clean",
        status="FINISHED",
        position=0,
        upstream="[]",
        cache_key="k" * 64,
        code_hash="h" * 64,
        params="{}",
        inputs="[]",
        outputs=json.dumps(outputs),
        start_time=7,
        end_time=8,
        attempts=1,
        logs="",
        error=None,
        traceback=None,
        cached_from=None,
    )


def _build_old_store(uri: str) -> None:
    database = Database(uri)
    engine = database._create_engine()  # keel's engine (SQLite: foreign keys on), no migration
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(keel_write=True)
            with conn.begin():
                for revision in BEFORE_PROJECTS:
                    run_migrations(conn, revision)
                _fill_the_old_way(conn)
            with conn.begin():
                heads = set(
                    conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
                )
        assert heads == set(BEFORE_PROJECTS)
    finally:
        engine.dispose()


def test_a_store_from_before_projects_moves_into_default(uri: str) -> None:
    _build_old_store(uri)
    with open_store(uri) as store:  # migrates
        with store.database.read() as conn:  # type: ignore[attr-defined]
            heads = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
            assert heads == expected_heads()
            for table in ("experiments", "runs", "datasets", "dataset_versions", "registered_models", "model_versions", "model_version_files", "model_aliases", "model_alias_history", "gate_results", "lineage_nodes", "lineage_edges", "pipeline_runs", "step_runs", "audit_events", "roles"):  # fmt: skip
                projects = set(
                    conn.execute(sa.text(f"SELECT DISTINCT project FROM {table}")).scalars()
                )
                assert projects == {"default"}, table
            if store.database.is_sqlite:  # type: ignore[attr-defined]
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

        # Tracking reads as before.
        exp = store.tracking.get_experiment_by_name("iris")
        assert exp is not None and exp.tags == {"team": "a"}
        run = store.tracking.get_run("r1")
        assert run.status is RunStatus.FINISHED and run.params == {"n": "5"}
        assert run.metrics == {"acc": 0.9} and run.tags == {"kind": "rf"}
        assert store.tracking.get_run("r2").parent_run_id == "r1"
        assert [m.value for m in store.tracking.get_metric_history("r1", "acc")] == [0.5, 0.9]
        assert [a.sha256 for a in store.tracking.list_artifacts("r1")] == [sha("a")]
        assert [r.id for r in store.tracking.search_runs(["e1"], "metrics.acc > 0.8")] == ["r1"]
        # Datasets.
        assert [v.version for v in store.datasets.list_versions("iris")] == [1, 2]
        assert store.datasets.get_version_by_id("dv1").content_hash == sha("b")
        assert store.datasets.find_version_by_hash("iris", "ccc").id == "dv2"
        # Registry.
        version = store.registry.get_version("iris", 1)
        assert {f.sha256 for f in version.files} == {sha("a"), sha("d")}
        assert store.registry.get_alias("iris", "champion").version == 1
        assert [h.action for h in store.registry.alias_history("iris")] == ["promote"]
        assert store.registry.get_gate_result("g" * 32).passed
        # Lineage and pipelines.
        up = store.lineage.upstream(LineageNode("model_version", "iris/1"))
        assert {n.label for n in up.nodes} == {"iris@1", "rf", "iris/1"}
        assert store.pipelines.get_pipeline_run("p1").step("clean").outputs[0].ref == sha("e")
        assert store.pipelines.find_cached_step_run("k" * 64) is not None
        # The chain, its head and the state it explains, unchanged.
        assert store.governance.verify().ok and store.governance.head().seq == 4
        result = verify_store(store)
        assert result.ok, result.problems
        assert [g.user for g in store.governance.list_roles()] == ["alice"]
        # Access: project default, and every referenced object in it.
        assert [p.name for p in store.access.list_projects()] == ["default"]
        for c in "abcde":
            assert store.access.project_has_object("default", sha(c)), c
        assert not store.access.project_has_object("default", "h" * 64)

        # Writing goes on as before; the chain continues.
        new = store.tracking.create_run("e1")
        store.tracking.end_run(new.id, RunStatus.FINISHED)
        store.governance.grant_role("bob", "editor", "alice")
        assert store.governance.verify().events == 5

    with open_store(uri, project="beta") as beta:  # another project sees none of it
        assert beta.tracking.list_experiments() == []
        assert beta.registry.list_models() == [] and beta.datasets.list_datasets() == []
        assert beta.governance.head().seq == 0 and beta.governance.verify().ok
        assert beta.tracking.create_experiment("iris").name == "iris"


def test_the_migrated_schema_is_the_one_the_code_declares(uri: str) -> None:
    """Every table, column, key and index in the ``*_rows`` modules, and nothing else."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from keel.store._sql._base import metadata

    for name in (
        "tracking",
        "datasets",
        "registry",
        "lineage",
        "pipelines",
        "audit",
        "access",
        "endpoints",
        "monitors",
        "features",
    ):
        importlib.import_module(f"keel.store._sql._{name}_rows")
    with open_store(uri) as store, store.database.engine.connect() as conn:  # type: ignore[attr-defined]
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
