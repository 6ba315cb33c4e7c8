"""The EndpointStore contract on every backend (the ``store`` fixture: SQLite, PostgreSQL
and a keel server over each).

Create, update and delete with optimistic concurrency on the revision; revisions that
keep counting across a delete; a change sent twice stored once; the audit event and the
lineage edges written with the change; rows changed behind keel's back named by
``keel audit verify``; the not-found errors that list what exists.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.governance._verify import verify_store
from keel.store import LineageNode, Store
from keel_server import recorded

SPEC: dict[str, Any] = {
    "targets": [
        {"model": "iris@champion", "weight": 90.0},
        {"model": "iris@challenger", "weight": 10.0},
    ],
    "shadow": {"model": "iris/5", "sample_rate": 0.5, "max_in_flight": 64},
    "sticky_header": "x-user-id",
    "limits": {"max_body_bytes": 4194304, "max_rows": 10000, "timeout_s": 30.0},
    "batching": {"enabled": True, "max_batch_rows": 64, "max_wait_ms": 2.0},
    "log_sample_rate": 1.0,
    "allow_missing": ["petal width (cm)"],
    "poll_interval_s": 5.0,
    "note": None,
}


def _sql(store: Any, statement: str, **params: Any) -> None:
    """Run SQL behind keel's back, on the rows of the store's project (``:project``)."""
    with store.database.engine.begin() as conn:
        conn.execute(sa.text(statement), {"project": store.project, **params})


def test_create_get_list_and_the_spec_round_trip(store: Store) -> None:
    created = store.endpoints.create_endpoint(
        "iris", SPEC, ["iris/5", "iris/3", "iris/4", "iris/3"], "ann", reason="launch"
    )
    assert created.revision == 1
    assert created.spec == SPEC
    assert created.model_versions == ("iris/3", "iris/4", "iris/5")  # sorted, once each
    assert (created.created_by, created.updated_by) == (recorded(store, "ann"),) * 2
    assert created.reason == "launch" and created.created_at == created.updated_at > 0
    assert store.endpoints.get_endpoint("iris") == created
    store.endpoints.create_endpoint("adult", {"targets": [{"model": "adult/1"}]}, ["adult/1"], "bo")
    assert [e.name for e in store.endpoints.list_endpoints()] == ["adult", "iris"]
    # the spec's own name may repeat the endpoint's, never name another
    same = store.endpoints.create_endpoint("named", {"name": "named", "targets": []}, [], "ann")
    assert "name" not in same.spec
    with pytest.raises(InvalidArgumentError, match="names another endpoint"):
        store.endpoints.create_endpoint("x", {"name": "y"}, [], "ann")


def test_every_change_is_audited_with_lineage(store: Store) -> None:
    store.endpoints.create_endpoint("iris", SPEC, ["iris/3", "iris/5"], "ann")
    event = store.governance.latest_event("endpoint", "iris", "endpoint.")
    assert event is not None and event.action == "endpoint.create"
    assert event.before is None and event.after is not None
    assert (event.after["revision"], event.after["model_versions"]) == (1, ["iris/3", "iris/5"])
    assert event.after["spec"] == SPEC
    store.endpoints.update_endpoint("iris", {"targets": []}, ["iris/4"], 1, "bo", reason="r")
    event = store.governance.latest_event("endpoint", "iris", "endpoint.")
    assert event is not None and event.action == "endpoint.update" and event.reason == "r"
    assert event.before is not None and event.before["revision"] == 1
    assert event.actor == recorded(store, "bo")
    store.endpoints.delete_endpoint("iris", 2, "cy")
    event = store.governance.latest_event("endpoint", "iris", "endpoint.")
    assert event is not None and event.action == "endpoint.delete" and event.after is None
    # model version -[served_by]-> endpoint for every version any revision resolved to
    graph = store.lineage.upstream(LineageNode("endpoint", "iris"))
    sources = {e.source.id for e in graph.edges if e.relation == "served_by"}
    assert sources == {"iris/3", "iris/4", "iris/5"}
    down = store.lineage.downstream(LineageNode("model_version", "iris/3"))
    assert [(e.target.kind, e.target.id) for e in down.edges] == [("endpoint", "iris")]
    assert store.governance.verify().ok
    assert not verify_store(store).problems


def test_updates_need_the_revision_they_read(store: Store) -> None:
    store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann")
    second = store.endpoints.update_endpoint("iris", {"targets": []}, ["iris/4"], 1, "bo")
    assert (second.revision, second.spec, second.model_versions) == (
        2,
        {"targets": []},
        ("iris/4",),
    )
    assert second.created_by == recorded(store, "ann")
    assert second.updated_by == recorded(store, "bo")
    with pytest.raises(ConflictError, match=r"revision 2 \(written by .*\), not 1"):
        store.endpoints.update_endpoint("iris", {"targets": [1]}, [], 1, "cy")
    with pytest.raises(ConflictError, match="revision 2"):
        store.endpoints.delete_endpoint("iris", 1, "cy")
    with pytest.raises(ConflictError, match="exists"):
        store.endpoints.create_endpoint("iris", {"targets": [2]}, [], "cy")
    assert store.endpoints.get_endpoint("iris") == second


def test_concurrent_updates_of_one_revision_one_wins(store: Store) -> None:
    store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def change(i: int) -> None:
        barrier.wait()
        try:
            store.endpoints.update_endpoint("iris", {"targets": [i]}, [], 1, f"user{i}")
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=change, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert store.endpoints.get_endpoint("iris").revision == 2
    assert [r.revision for r in store.endpoints.list_revisions("iris")] == [1, 2]
    assert not verify_store(store).problems


def test_a_change_sent_twice_is_stored_once(store: Store) -> None:
    """What a retry after a lost answer does: the second call finds its own change."""
    first = store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann")
    assert store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann") == first
    updated = store.endpoints.update_endpoint("iris", {"targets": []}, ["iris/4"], 1, "ann")
    again = store.endpoints.update_endpoint("iris", {"targets": []}, ["iris/4"], 1, "ann")
    assert again == updated and again.revision == 2
    store.endpoints.delete_endpoint("iris", 2, "ann")
    store.endpoints.delete_endpoint("iris", 2, "ann")
    assert [r.action for r in store.endpoints.list_revisions("iris")] == [
        "create",
        "update",
        "delete",
    ]
    assert store.governance.head().seq == 3
    # another user's identical change is not a retry
    store.endpoints.create_endpoint("adult", SPEC, [], "ann")
    if recorded(store, "ann") == "ann":  # a server records one authenticated user for both
        with pytest.raises(ConflictError):
            store.endpoints.create_endpoint("adult", SPEC, [], "bo")


def test_revisions_keep_counting_across_a_delete(store: Store) -> None:
    store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann")
    store.endpoints.update_endpoint("iris", {"targets": []}, ["iris/4"], 1, "ann")
    store.endpoints.delete_endpoint("iris", 2, "bo", reason="retired")
    with pytest.raises(NotFoundError, match="'iris' was deleted"):
        store.endpoints.get_endpoint("iris")
    with pytest.raises(NotFoundError):
        store.endpoints.update_endpoint("iris", SPEC, [], 3, "ann")
    assert store.endpoints.list_endpoints() == []
    again = store.endpoints.create_endpoint("iris", SPEC, ["iris/5"], "cy")
    assert again.revision == 4 and again.created_by == recorded(store, "cy")
    history = store.endpoints.list_revisions("iris")
    assert [(r.revision, r.action) for r in history] == [
        (1, "create"),
        (2, "update"),
        (3, "delete"),
        (4, "create"),
    ]
    assert history[0].spec == SPEC and history[0].model_versions == ("iris/3",)
    assert history[2].spec is None and history[2].model_versions == ()
    assert history[2].reason == "retired" and history[2].actor == recorded(store, "bo")
    assert not verify_store(store).problems


def test_not_found_lists_what_exists(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no endpoints"):
        store.endpoints.get_endpoint("iris")
    with pytest.raises(NotFoundError, match="no endpoints"):
        store.endpoints.list_revisions("iris")
    store.endpoints.create_endpoint("iris", SPEC, [], "ann")
    store.endpoints.create_endpoint("adult", SPEC, [], "ann")
    with pytest.raises(NotFoundError, match=r"did you mean iris\? endpoints are: adult, iris"):
        store.endpoints.get_endpoint("irs")
    with pytest.raises(NotFoundError, match="endpoints are: adult, iris"):
        store.endpoints.delete_endpoint("nope", 1, "ann")


@pytest.mark.parametrize(
    ("name", "spec", "versions", "message"),
    [
        ("bad name!", {}, [], "endpoint name 'bad name!' is invalid"),
        ("", {}, [], "endpoint name '' is invalid"),
        ("iris", ["targets"], [], "must be a mapping"),
        ("iris", {}, ["iris@champion"], "is not a model version"),
        ("iris", {}, ["iris/0"], "is not a model version"),
        ("iris", {}, "iris/3", "must be a list"),
        ("iris", {"blob": "x" * 70_000}, [], "at most 65536 are stored"),
    ],
)
def test_malformed_changes_are_refused(
    store: Store, name: str, spec: Any, versions: Any, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        store.endpoints.create_endpoint(name, spec, versions, "ann")
    assert store.endpoints.list_endpoints() == []
    assert store.governance.head().seq == 0


def test_rows_changed_behind_keels_back_are_named(store: Any) -> None:
    store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann")
    store.endpoints.update_endpoint("iris", {"targets": []}, ["iris/4"], 1, "ann")
    store.endpoints.create_endpoint("adult", SPEC, ["adult/1"], "ann")
    store.endpoints.delete_endpoint("adult", 1, "ann")
    assert not verify_store(store).problems
    _sql(store, "UPDATE endpoints SET spec = '{}' WHERE project = :project AND name = 'iris'")
    _sql(
        store,
        "UPDATE endpoint_revisions SET actor = 'mallory' "
        "WHERE project = :project AND name = 'iris' AND revision = 1",
    )
    _sql(
        store,
        "INSERT INTO endpoints (project, name, revision, spec, model_versions, created_at, "
        "created_by, updated_at, updated_by) VALUES (:project, 'adult', 3, '{}', '[]', 1, 'm', "
        "1, 'm')",
    )
    problems = [str(p) for p in verify_store(store).problems]
    assert len(problems) == 3, problems
    assert any("endpoints row iris: its spec" in p for p in problems)
    assert any("endpoint_revisions row iris#1: actor is 'mallory'" in p for p in problems)
    assert any("endpoints row adult" in p and "restored behind keel's back" in p for p in problems)


def test_projects_keep_their_endpoints_apart(sql_store: Any) -> None:
    """How the SQL store keeps projects apart (a server's projects are its stores')."""
    store = sql_store
    store.endpoints.create_endpoint("iris", SPEC, ["iris/3"], "ann")
    other = store.for_project("beta")
    try:
        assert other.endpoints.list_endpoints() == []
        with pytest.raises(NotFoundError) as caught:
            other.endpoints.get_endpoint("iris")
        assert "iris/3" not in str(caught.value)
        mine = other.endpoints.create_endpoint("iris", {"targets": []}, ["iris/9"], "bo")
        assert mine.revision == 1 and other.governance.head().seq == 1
        assert store.endpoints.get_endpoint("iris").model_versions == ("iris/3",)
        assert not verify_store(other).problems and not verify_store(store).problems
    finally:
        other.close()
