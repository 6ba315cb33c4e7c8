"""``keel audit verify`` covers the state, not only the events, on SQLite and PostgreSQL.

Every governed table is changed with SQL behind keel's back; the replayed chain must
name the row (and nothing else), and an alias or version so changed must be refused.
Deleting events from the end and rewriting the head passes the chain's own checks;
only an anchor kept elsewhere catches it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import InvalidArgumentError
from keel.governance import AuditMismatchError, check_version
from keel.governance._verify import verify_store
from keel.registry import resolve_version
from keel.store import CheckResult, GateResult, ModelFile, ModelVersionDraft
from keel.store._audit import event_hash
from keel_server import recorded


def _sql(store: Any, statement: str, **params: Any) -> None:
    """Run SQL behind keel's back, on the rows of the store's project (``:project``)."""
    with store.database.engine.begin() as conn:
        conn.execute(sa.text(statement), {"project": store.project, **params})


def _draft(sha: str, f1: float) -> ModelVersionDraft:
    return ModelVersionDraft(
        name="m",
        run_id="r" * 32,
        flavor="sklearn",
        format="skops",
        files=(
            ModelFile("model/model.skops", sha * 64, 10, "model"),
            ModelFile("model/keel-model.json", "d" * 64, 3, "descriptor"),
        ),
        metrics={"f1": f1, "nan": float("nan")},
        datasets=("ds1",),
        details={"classes": [0, 1], "nested": {"k": (1, 2)}},
        signature={"inputs": [{"name": "x", "type": "double"}]},
    )


def _gate(version: int, alias: str, passed: bool) -> GateResult:
    checks = (
        CheckResult("metric: f1 >= 0.9", 0.95 if passed else 0.5, "f1 >= 0.9", passed, "d"),
        CheckResult("latency: p99_ms <= 50", 1.25, "p99_ms <= 50", True, "fast"),
    )
    return GateResult(
        uuid.uuid4().hex, "m", version, alias, passed, checks, {"name": "p"}, 1, "alice"
    )


@pytest.fixture
def governed(store: Any) -> Any:
    """m/1 champion (gate passed), m/2 refused, m/3 challenger, m/4 archived, alice admin."""
    for sha, f1 in (("a", 0.95), ("b", 0.5), ("c", 0.96), ("e", 0.7)):
        store.registry.create_version(_draft(sha, f1), "alice")
    store.registry.move_alias(
        "m", "champion", 1, 0, "promote", "alice", None, _gate(1, "champion", True)
    )
    store.registry.record_gate_result(_gate(2, "champion", False))
    store.registry.move_alias("m", "challenger", 3, 0, "promote", "alice")
    store.registry.archive_version("m", 4, "alice", "superseded")
    store.governance.grant_role("alice", "admin", "root")
    result = verify_store(store)
    assert result.ok, result.problems
    assert result.rows == 12  # model, 4 versions, 2 aliases, 2 alias histories, 2 gates, role
    return store


def test_a_clean_store_verifies_and_the_state_is_in_audit_terms(governed: Any) -> None:
    state = {(o.object_type, o.object_id): o.state for o in governed.registry.audited_state()}
    assert state[("alias", "m@champion")] == {"version": 1}
    assert state[("model_version", "m/4")]["status"] == "ARCHIVED"
    assert state[("alias_history", "m@champion")]["moves"][0][:3] == ["promote", None, 1]
    assert resolve_version(governed, "m@champion").version == 1


def test_alias_moved_behind_keels_back_is_named_and_refused(governed: Any) -> None:
    _sql(
        governed,
        "UPDATE model_aliases SET version = 2 WHERE alias = 'champion' AND project = :project",
    )
    result = verify_store(governed)
    assert not result.ok and result.chain.ok  # every event is intact; the state is not
    assert [(m.table, m.object_id) for m in result.mismatches] == [("model_aliases", "m@champion")]
    problem = result.mismatches[0].problem
    assert "version is 2 in the table, but the audit chain says 1" in problem
    assert f"alias.promote by {recorded(governed, 'alice')}" in problem
    with pytest.raises(AuditMismatchError) as caught:
        resolve_version(governed, "m@champion")
    message = str(caught.value)
    assert "points to version 2 in the model_aliases table" in message
    assert "says version 1" in message and "keel audit verify" in message
    assert "keel models promote m/1 --to champion --force" in message


TAMPERING = [
    pytest.param(
        "DELETE FROM model_aliases WHERE alias = 'challenger' AND project = :project",
        ("model_aliases", "m@challenger"),
        "model_aliases has no row m@challenger, but event #",
        id="alias-deleted",
    ),
    pytest.param(
        "INSERT INTO model_aliases (project, name, alias, version, revision, updated_at, "
        "updated_by) VALUES (:project, 'm', 'prod', 2, 1, 0, 'mallory')",
        ("model_aliases", "m@prod"),
        "model_aliases row m@prod (version 2) is not explained by any audit event",
        id="alias-inserted",
    ),
    pytest.param(
        "UPDATE model_versions SET status = 'READY' WHERE version = 4 AND project = :project",
        ("model_versions", "m/4"),
        "status is 'READY' in the table, but the audit chain says 'ARCHIVED' "
        "(event #9 model_version.archive by {alice})",
        id="version-unarchived",
    ),
    pytest.param(
        "UPDATE model_versions SET metrics = '{\"f1\": 0.99}' WHERE version = 2 "
        "AND project = :project",
        ("model_versions", "m/2"),
        "its metrics, signature, description, details or files differ from what event #3",
        id="version-metrics",
    ),
    pytest.param(
        "UPDATE model_versions SET run_id = 'x' WHERE version = 3 AND project = :project",
        ("model_versions", "m/3"),
        "run_id is 'x' in the table, but the audit chain says 'rrrr",
        id="version-run",
    ),
    pytest.param(
        "UPDATE model_version_files SET sha256 = :sha WHERE version = 1 AND role = 'model' "
        "AND project = :project",
        ("model_versions", "m/1"),
        "the sha256 of model/model.skops differs from what event #2 model_version.register",
        id="version-files",
    ),
    pytest.param(
        "UPDATE gate_results SET passed = TRUE WHERE version = 2 AND project = :project",
        ("gate_results", None),
        "passed is True in the table, but the audit chain says False",
        id="gate-passed",
    ),
    pytest.param(
        "UPDATE gate_results SET checks = '[]' WHERE version = 1 AND project = :project",
        ("gate_results", None),
        "its checks, values, bounds, policy or reason differ",
        id="gate-checks",
    ),
    pytest.param(
        "INSERT INTO model_alias_history (project, name, alias, from_version, to_version, "
        "action, actor, time) VALUES (:project, 'm', 'champion', 1, 2, 'promote', 'mallory', 0)",
        ("model_alias_history", "m@champion"),
        "move 2 (promote 1 -> 2 by mallory) is not explained by any audit event",
        id="history-inserted",
    ),
    pytest.param(
        "UPDATE model_alias_history SET to_version = 2 WHERE alias = 'challenger' "
        "AND project = :project",
        ("model_alias_history", "m@challenger"),
        "the table has promote - -> 2 by {alice}, the audit chain has promote - -> 3 by {alice}",
        id="history-changed",
    ),
    pytest.param(
        'INSERT INTO roles (project, "user", role, granted_by, granted_at) '
        "VALUES (:project, 'mallory', 'admin', 'mallory', 0)",
        ("roles", "mallory:admin"),
        "roles row mallory:admin (granted_by 'mallory') is not explained by any audit event",
        id="role-inserted",
    ),
    pytest.param(
        "DELETE FROM roles WHERE \"user\" = 'alice' AND project = :project",
        ("roles", "alice:admin"),
        "roles has no row alice:admin, but event #10 role.grant by {root} recorded it",
        id="role-deleted",
    ),
]


@pytest.mark.parametrize(("statement", "row", "phrase"), TAMPERING)
def test_every_governed_table_changed_by_sql_is_named(
    governed: Any, statement: str, row: tuple[str, str | None], phrase: str
) -> None:
    _sql(governed, statement, sha="f" * 64)
    result = verify_store(governed)
    assert result.chain.ok and not result.ok
    table, object_id = row
    assert len(result.mismatches) == 1, result.problems  # one change, one problem
    assert {m.table for m in result.mismatches} == {table}, result.problems
    if object_id is not None:
        assert {m.object_id for m in result.mismatches} == {object_id}
    phrase = phrase.format(alice=recorded(governed, "alice"), root=recorded(governed, "root"))
    assert any(phrase in m.problem for m in result.mismatches), result.problems
    assert "behind keel's back" in result.mismatches[0].problem


def test_a_version_row_changed_by_sql_is_refused_at_load(governed: Any) -> None:
    _sql(
        governed,
        "UPDATE model_versions SET status = 'READY' WHERE version = 4 AND project = :project",
    )
    with pytest.raises(AuditMismatchError, match="its status is READY in the model_versions"):
        check_version(governed, governed.registry.get_version("m", 4))
    _sql(
        governed,
        "UPDATE model_version_files SET sha256 = :s WHERE version = 1 AND project = :project",
        s="f" * 64,
    )
    with pytest.raises(AuditMismatchError, match="sha256 of model/keel-model.json, model/model"):
        check_version(governed, governed.registry.get_version("m", 1))
    _sql(
        governed,
        "UPDATE model_versions SET description = 'x' WHERE version = 3 AND project = :project",
    )
    with pytest.raises(AuditMismatchError, match="metrics, signature, description"):
        check_version(governed, governed.registry.get_version("m", 3))
    check_version(governed, governed.registry.get_version("m", 2))  # untouched: fine


def test_an_event_deleted_with_its_effect_still_standing_is_named(governed: Any) -> None:
    """Delete the last alias move's event and rewrite the head: the chain holds, the state not."""
    last = governed.governance.latest_event("alias", "m@challenger", "alias.")
    prev = governed.governance.read_events(last.seq - 2, 1)[0]
    _sql(governed, "DELETE FROM audit_events WHERE seq >= :s AND project = :project", s=last.seq)
    _sql(
        governed,
        "UPDATE audit_head SET seq = :s, hash = :h WHERE project = :project",
        s=prev.seq,
        h=prev.hash,
    )
    result = verify_store(governed)
    assert result.chain.ok
    assert ("model_aliases", "m@challenger") in {(m.table, m.object_id) for m in result.mismatches}


# -- the anchor -----------------------------------------------------------------------


def _truncate(store: Any, keep: int) -> None:
    """Delete every event after ``keep`` and rewrite the head to match (a careful forger)."""
    kept = store.governance.read_events(keep - 1, 1)[0]
    _sql(store, "DELETE FROM audit_events WHERE seq > :s AND project = :project", s=keep)
    _sql(
        store,
        "UPDATE audit_head SET seq = :s, hash = :h WHERE project = :project",
        s=kept.seq,
        h=kept.hash,
    )


def test_deleting_the_last_event_and_rewriting_the_head_is_caught_only_by_the_anchor(
    governed: Any,
) -> None:
    anchor = str(governed.governance.head())
    count = governed.governance.head().seq
    _sql(
        governed, "DELETE FROM roles WHERE project = :project"
    )  # keep the state consistent with the shorter chain
    _truncate(governed, count - 1)  # the role.grant event is gone, and the head rewritten
    plain = verify_store(governed)
    assert plain.ok  # without an outside anchor this cannot be seen
    result = verify_store(governed, expect=anchor)
    assert not result.ok and result.anchor is not None and not result.anchor.ok
    assert f"the head you kept is event #{count}" in result.anchor.message
    assert f"the chain now ends at event #{count - 1}: 1 event(s) were deleted" in (
        result.anchor.message
    )
    bare = verify_store(governed, expect=anchor.split(":")[0])
    assert not bare.ok and "no event of the chain has the hash you kept" in bare.anchor.message


def test_an_older_head_is_fine_when_events_were_appended(governed: Any) -> None:
    anchor = str(governed.governance.head())
    governed.registry.move_alias("m", "champion", 3, 1, "promote", "alice")
    result = verify_store(governed, expect=anchor)
    assert result.ok, result.problems
    assert result.anchor.message.endswith("1 event(s) were appended since")
    assert verify_store(governed, expect=anchor.split(":")[0]).ok
    assert verify_store(governed, expect=str(governed.governance.head())).anchor.message.endswith(
        "no events since"
    )


def test_a_rewritten_history_with_every_hash_recomputed_is_caught_by_the_anchor(
    governed: Any,
) -> None:
    """Change event #2 and recompute every later hash and the head: only the anchor knows."""
    anchor = str(governed.governance.head())
    events = governed.governance.read_events(0, 1000)
    prev = events[0].hash
    for event in events[1:]:
        content = {**event.content(), "prev_hash": prev}
        if event.seq == 2:
            content["actor"] = "mallory"
        digest = event_hash(content)
        _sql(
            governed,
            "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s AND project = :project",
            a=content["actor"],
            p=prev,
            h=digest,
            s=event.seq,
        )
        prev = digest
    _sql(governed, "UPDATE audit_head SET hash = :h WHERE project = :project", h=prev)
    assert verify_store(governed).chain.ok
    result = verify_store(governed, expect=anchor)
    assert not result.ok and "the history up to it was rewritten" in result.anchor.message


@pytest.mark.parametrize(
    "text",
    ["abc", "g" * 64, "a" * 64 + ":x", "a" * 64 + ":-1", "", "a" * 10_000],
)
def test_a_malformed_anchor_is_refused(governed: Any, text: str) -> None:
    with pytest.raises(InvalidArgumentError, match="keel audit head") as caught:
        verify_store(governed, expect=text)
    assert len(str(caught.value)) < 300
