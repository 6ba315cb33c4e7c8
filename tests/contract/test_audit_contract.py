"""The GovernanceStore contract on SQLite and PostgreSQL: the chain, its head, roles.

Tampering is done with SQL directly against each backend; the state half of
``keel audit verify`` (rows changed beside the chain) is in test_audit_state_contract.py.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import InvalidArgumentError, NotFoundError
from keel.store import AuditEntry, ModelFile, ModelVersionDraft
from keel_server import recorded


def _fill(store: Any, n: int = 5) -> None:
    for i in range(n):
        store.governance.append(
            AuditEntry(
                actor="alice",
                action="thing.change",
                object_type="thing",
                object_id=f"t{i}",
                before={"v": i},
                after={"v": i + 1, "note": "é ✓"},
                reason=None,
            )
        )


def _sql(store: Any, statement: str, **params: Any) -> None:
    """Run SQL behind keel's back, on the rows of the store's project (``:project``)."""
    with store.database.engine.begin() as conn:
        conn.execute(sa.text(statement), {"project": store.project, **params})


def test_events_chain_and_verify(store: Any) -> None:
    _fill(store)
    events = store.governance.list_events()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[1].after == {"v": 2, "note": "é ✓"}
    result = store.governance.verify()
    assert result.ok and result.events == 5
    assert [
        e.object_id for e in store.governance.list_events(actor=recorded(store, "alice"), limit=2)
    ] == [
        "t3",
        "t4",
    ]
    assert store.governance.list_events(object_id="t1")[0].object_id == "t1"


def test_changed_row_is_found(store: Any) -> None:
    _fill(store)
    _sql(store, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3 AND project = :project")
    result = store.governance.verify()
    assert not result.ok and result.broken_at == 3
    assert "changed after it was written" in (result.problem or "")


def test_changed_before_state_is_found(store: Any) -> None:
    _fill(store)
    _sql(
        store,
        'UPDATE audit_events SET "after" = \'{"v": 99}\' WHERE seq = 2 AND project = :project',
    )
    result = store.governance.verify()
    assert not result.ok and result.broken_at == 2


def test_deleted_row_is_found(store: Any) -> None:
    _fill(store)
    _sql(store, "DELETE FROM audit_events WHERE seq = 3 AND project = :project")
    result = store.governance.verify()
    assert not result.ok and result.broken_at == 4
    assert "event #3 is missing" in (result.problem or "")


def test_deleted_last_row_is_found_by_the_head(store: Any) -> None:
    _fill(store)
    _sql(store, "DELETE FROM audit_events WHERE seq = 5 AND project = :project")
    result = store.governance.verify()
    assert not result.ok and "deleted from the end" in (result.problem or "")


def test_reordered_rows_are_found(store: Any) -> None:
    _fill(store)
    # Swap the positions of events 2 and 3 (their seq numbers).
    _sql(store, "UPDATE audit_events SET seq = 1000 WHERE seq = 2 AND project = :project")
    _sql(store, "UPDATE audit_events SET seq = 2 WHERE seq = 3 AND project = :project")
    _sql(store, "UPDATE audit_events SET seq = 3 WHERE seq = 1000 AND project = :project")
    result = store.governance.verify()
    assert not result.ok and result.broken_at == 2


def test_rewritten_chain_without_rehashing_links_is_found(store: Any) -> None:
    """Recomputing one event's hash (a careful forger) still breaks the next link."""
    from keel.store._audit import event_hash

    _fill(store)
    event = store.governance.list_events(object_id="t1")[0]
    forged = {**event.content(), "actor": "mallory"}
    _sql(
        store,
        "UPDATE audit_events SET actor = 'mallory', hash = :h WHERE seq = :s AND project = :project",
        h=event_hash(forged),
        s=event.seq,
    )
    result = store.governance.verify()
    assert not result.ok and result.broken_at == event.seq + 1
    assert "does not follow" in (result.problem or "")


def test_concurrent_appends_keep_the_chain(store: Any) -> None:
    def work(i: int) -> None:
        for j in range(10):
            store.governance.append(AuditEntry("t", "x.y", "thing", f"{i}-{j}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = store.governance.verify()
    assert result.ok and result.events == 40


def test_registry_change_and_event_commit_together(store: Any) -> None:
    draft = ModelVersionDraft(
        name="m",
        run_id="r" * 32,
        flavor="sklearn",
        format="skops",
        files=(ModelFile("model/model.skops", "a" * 64, 10, "model"),),
    )
    v = store.registry.create_version(draft, "alice")
    store.registry.move_alias("m", "champion", v.version, 0, "promote", "alice")
    # A failing change (archiving the alias holder) writes neither the change nor an event.
    before = len(store.governance.list_events())
    with pytest.raises(Exception, match="holds alias champion"):
        store.registry.archive_version("m", 1, "alice")
    assert len(store.governance.list_events()) == before
    assert [e.action for e in store.governance.list_events(object_id="m")] == [
        "registered_model.create",
        "model_version.register",
        "alias.promote",
    ]
    assert store.governance.verify().ok


def test_roles(store: Any) -> None:
    store.governance.grant_role("alice", "admin", "root")
    assert store.governance.grant_role("alice", "admin", "root").granted_by == recorded(
        store, "root"
    )
    assert [g.user for g in store.governance.list_roles()] == ["alice"]
    with pytest.raises(InvalidArgumentError, match="roles are: viewer, editor, maintainer, admin"):
        store.governance.grant_role("bob", "superuser", "root")
    with pytest.raises(NotFoundError, match="holders are: alice"):
        store.governance.revoke_role("bob", "admin", "root")
    store.governance.revoke_role("alice", "admin", "root")
    assert [e.action for e in store.governance.list_events(object_type="role")] == [
        "role.grant",
        "role.revoke",
    ]
    assert store.governance.verify().ok


def test_read_events_pages_in_seq_order(store: Any) -> None:
    _fill(store, 7)
    first = store.governance.read_events(0, 3)
    assert [e.seq for e in first] == [1, 2, 3]
    rest = store.governance.read_events(first[-1].seq, 100)
    assert [e.seq for e in rest] == [4, 5, 6, 7]
    assert store.governance.read_events(7) == []
    assert rest[0].after == {"v": 4, "note": "é ✓"}


def test_latest_event_of_one_object_and_action(store: Any) -> None:
    for action, version in (("alias.promote", 1), ("promotion.reject", 2), ("alias.promote", 3)):
        store.governance.append(
            AuditEntry("alice", action, "alias", "m@champion", after={"version": version})
        )
    store.governance.append(AuditEntry("alice", "promotion.reject", "alias", "m@champion"))
    store.governance.append(AuditEntry("alice", "alias.promote", "alias", "m@champion_2"))
    latest = store.governance.latest_event("alias", "m@champion", "alias.")
    assert latest is not None and latest.seq == 3 and latest.after == {"version": 3}
    assert store.governance.latest_event("alias", "m@champion").seq == 4
    # LIKE wildcards in the prefix are literal: "alias_" does not match "alias.".
    assert store.governance.latest_event("alias", "m@champion", "alias_") is None
    assert store.governance.latest_event("alias", "m@nothing", "alias.") is None


def test_head_is_the_last_event(store: Any) -> None:
    from keel.store._audit import GENESIS_HASH

    assert (store.governance.head().seq, store.governance.head().hash) == (0, GENESIS_HASH)
    _fill(store, 3)
    head = store.governance.head()
    last = store.governance.list_events()[-1]
    assert (head.seq, head.hash) == (3, last.hash)
    assert str(head) == f"{last.hash}:3"


def test_roles_in_audit_terms(store: Any) -> None:
    store.governance.grant_role("alice", "admin", "root")
    state = store.governance.audited_state()
    assert [(o.object_type, o.object_id, dict(o.state)) for o in state] == [
        ("role", "alice:admin", {"granted_by": recorded(store, "root")})
    ]
