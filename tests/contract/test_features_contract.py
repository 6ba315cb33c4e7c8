"""The FeatureStore contract on every backend (the ``store`` fixture: SQLite, PostgreSQL
and a keel server over each).

Immutable versions; a set of changes written all or none with one audit event each;
optimistic concurrency on the latest version; a change sent twice stored once; an
unchanged spec is no new version; retirements; rows changed behind keel's back named by
``keel audit verify``; not-found errors that list what exists.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.governance._verify import verify_store
from keel.store import FeatureChange, Store
from keel_server import recorded

ENTITY: dict[str, Any] = {"name": "customer", "join_keys": {"customer_id": "int64"}}
VIEW: dict[str, Any] = {
    "name": "spend",
    "entities": ["customer"],
    "timestamp": "ts",
    "created_at": None,
    "ttl": "7d",
    "source": {"dataset": "transactions@2"},
    "features": {"spend_7d": "float64", "orders_7d": "int64"},
}
SERVICE: dict[str, Any] = {"name": "churn", "features": ["spend:spend_7d"]}


def _sql(store: Any, statement: str, **params: Any) -> None:
    """Run SQL behind keel's back, on the rows of the store's project (``:project``)."""
    with store.database.engine.begin() as conn:
        conn.execute(sa.text(statement), {"project": store.project, **params})


def _first(store: Store) -> None:
    store.features.apply_changes(
        [
            FeatureChange("entity", "customer", ENTITY, 0),
            FeatureChange("feature_view", "spend", VIEW, 0),
            FeatureChange("feature_service", "churn", SERVICE, 0),
        ],
        "ann",
        reason="first",
    )


def test_apply_registers_versions_and_reads_them_back(store: Store) -> None:
    made = store.features.apply_changes(
        [
            FeatureChange("entity", "customer", ENTITY, 0),
            FeatureChange("feature_view", "spend", VIEW, 0),
        ],
        "ann",
        reason="first",
    )
    assert [(d.kind, d.name, d.version) for d in made] == [
        ("entity", "customer", 1),
        ("feature_view", "spend", 1),
    ]
    assert made[1].spec == VIEW and made[1].created_by == recorded(store, "ann")
    assert made[1].reason == "first" and made[1].created_at > 0 and not made[1].retired
    assert store.features.get_definition("feature_view", "spend") == made[1]
    assert store.features.get_definition("feature_view", "spend", 1) == made[1]
    changed = {**VIEW, "ttl": "1d"}
    (second,) = store.features.apply_changes(
        [FeatureChange("feature_view", "spend", changed, 1)], "bo"
    )
    assert second.version == 2 and second.spec == changed
    assert store.features.get_definition("feature_view", "spend", 1).spec == VIEW  # immutable
    latest = store.features.list_definitions()
    assert [(d.kind, d.name, d.version) for d in latest] == [
        ("entity", "customer", 1),
        ("feature_view", "spend", 2),
    ]
    assert [d.name for d in store.features.list_definitions("entity")] == ["customer"]
    versions = store.features.list_definition_versions("feature_view", "spend")
    assert [v.version for v in versions] == [1, 2]
    assert [d.lineage_node().id for d in versions] == ["spend/1", "spend/2"]


def test_every_version_is_audited(store: Store) -> None:
    _first(store)
    assert store.governance.head().seq == 3
    event = store.governance.latest_event("feature_view", "spend/1")
    assert event is not None and event.action == "feature_view.register"
    assert event.after is not None and event.after["spec"] == VIEW and event.reason == "first"
    assert event.actor == recorded(store, "ann") and event.before is None
    store.features.apply_changes([FeatureChange("feature_service", "churn", None, 1)], "bo")
    event = store.governance.latest_event("feature_service", "churn/2")
    assert event is not None and event.action == "feature_service.retire"
    assert event.before is not None and event.before["version"] == 1
    assert store.governance.verify().ok
    assert not verify_store(store).problems


def test_a_set_of_changes_is_written_all_or_none(store: Store) -> None:
    _first(store)
    head = store.governance.head().seq
    with pytest.raises(ConflictError, match=r"'spend' is at version 1 .*not 0"):
        store.features.apply_changes(
            [
                FeatureChange("entity", "store", {"name": "store", "join_keys": {}}, 0),
                FeatureChange("feature_view", "spend", {**VIEW, "ttl": "2d"}, 0),
            ],
            "ann",
        )
    assert store.governance.head().seq == head
    with pytest.raises(NotFoundError, match="entities are: customer"):
        store.features.get_definition("entity", "store")
    assert store.features.get_definition("feature_view", "spend").version == 1


def test_an_unchanged_spec_and_a_retry_write_nothing(store: Store) -> None:
    _first(store)
    head = store.governance.head().seq
    same = store.features.apply_changes([FeatureChange("feature_view", "spend", VIEW, 1)], "ann")
    assert same[0].version == 1 and store.governance.head().seq == head
    changes = [FeatureChange("feature_view", "spend", {**VIEW, "ttl": "3d"}, 1)]
    first = store.features.apply_changes(changes, "ann")
    again = store.features.apply_changes(changes, "ann")
    assert first == again and again[0].version == 2
    assert store.governance.head().seq == head + 1
    if recorded(store, "ann") == "ann":  # a server records one authenticated user for both
        with pytest.raises(ConflictError):
            store.features.apply_changes(changes, "bo")


def test_concurrent_applies_of_one_version_one_wins(store: Store) -> None:
    _first(store)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def change(i: int) -> None:
        barrier.wait()
        try:
            store.features.apply_changes(
                [FeatureChange("feature_view", "spend", {**VIEW, "ttl": f"{i + 1}d"}, 1)],
                f"user{i}",
            )
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=change, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert [
        v.version for v in store.features.list_definition_versions("feature_view", "spend")
    ] == [1, 2]
    assert not verify_store(store).problems


def test_retired_definitions_keep_their_versions(store: Store) -> None:
    _first(store)
    (retired,) = store.features.apply_changes(
        [FeatureChange("feature_service", "churn", None, 1)], "bo", reason="unused"
    )
    assert retired.retired and retired.version == 2 and retired.reason == "unused"
    assert [d.name for d in store.features.list_definitions("feature_service")] == []
    assert store.features.get_definition("feature_service", "churn").retired
    assert store.features.get_definition("feature_service", "churn", 1).spec == SERVICE
    # retiring it again changes nothing
    again = store.features.apply_changes([FeatureChange("feature_service", "churn", None, 2)], "cy")
    assert again == [retired]
    with pytest.raises(ConflictError, match="is not registered"):
        store.features.apply_changes([FeatureChange("feature_service", "nope", None, 0)], "bo")
    (back,) = store.features.apply_changes(
        [FeatureChange("feature_service", "churn", SERVICE, 2)], "cy"
    )
    assert back.version == 3 and not back.retired
    assert not verify_store(store).problems


def test_not_found_lists_what_exists(store: Store) -> None:
    with pytest.raises(NotFoundError, match="has no feature views"):
        store.features.get_definition("feature_view", "spend")
    with pytest.raises(NotFoundError, match="has no feature views"):
        store.features.list_definition_versions("feature_view", "spend")
    _first(store)
    with pytest.raises(NotFoundError, match=r"did you mean spend\? feature views are: spend"):
        store.features.get_definition("feature_view", "spnd")
    with pytest.raises(NotFoundError, match="has no version 4; versions are 1-1"):
        store.features.get_definition("feature_view", "spend", 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (FeatureChange("table", "x", {}, 0), "'table' is not a kind of feature definition"),
        (FeatureChange("entity", "bad name!", {}, 0), "entity name 'bad name!' is invalid"),
        (FeatureChange("entity", "", {}, 0), "entity name '' is invalid"),
        (FeatureChange("entity", "a", ["x"], 0), "must be a mapping"),  # type: ignore[arg-type]
        (FeatureChange("entity", "a", {"name": "b"}, 0), "names another one"),
        (FeatureChange("entity", "a", {}, -1), "expected_version must be 0"),
        (FeatureChange("entity", "a", {"x": "y" * 300_000}, 0), "at most 262144 are stored"),
    ],
)
def test_malformed_changes_are_refused(store: Store, change: FeatureChange, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        store.features.apply_changes([change], "ann")
    assert store.features.list_definitions() == []
    assert store.governance.head().seq == 0


def test_a_definition_changed_twice_in_one_call_is_refused(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="changed twice in one call"):
        store.features.apply_changes(
            [FeatureChange("entity", "a", {}, 0), FeatureChange("entity", "a", {"x": 1}, 0)], "ann"
        )
    assert store.governance.head().seq == 0


def test_rows_changed_behind_keels_back_are_named(store: Any) -> None:
    _first(store)
    store.features.apply_changes([FeatureChange("feature_service", "churn", None, 1)], "bo")
    assert not verify_store(store).problems
    _sql(
        store,
        "UPDATE feature_definitions SET spec = '{}' "
        "WHERE project = :project AND kind = 'feature_view' AND name = 'spend'",
    )
    _sql(
        store,
        "UPDATE feature_definitions SET created_by = 'mallory' "
        "WHERE project = :project AND kind = 'entity' AND name = 'customer'",
    )
    _sql(
        store,
        "INSERT INTO feature_definitions (project, kind, name, version, spec, digest, "
        "created_at, created_by) VALUES (:project, 'entity', 'ghost', 1, '{}', '', 1, 'm')",
    )
    problems = [str(p) for p in verify_store(store).problems]
    assert len(problems) == 3, problems
    assert any("feature_definitions row feature_view:spend/1: its spec" in p for p in problems)
    assert any(
        "feature_definitions row entity:customer/1: created_by is 'mallory'" in p for p in problems
    )
    assert any("entity:ghost/1" in p and "not explained by any audit event" in p for p in problems)


def test_projects_keep_their_definitions_apart(sql_store: Any) -> None:
    store = sql_store
    _first(store)
    other = store.for_project("beta")
    try:
        assert other.features.list_definitions() == []
        with pytest.raises(NotFoundError, match="has no feature views"):
            other.features.get_definition("feature_view", "spend")
        (mine,) = other.features.apply_changes(
            [FeatureChange("feature_view", "spend", {**VIEW, "ttl": "9d"}, 0)], "bo"
        )
        assert mine.version == 1
        assert store.features.get_definition("feature_view", "spend").spec == VIEW
        assert not verify_store(other).problems and not verify_store(store).problems
    finally:
        other.close()
