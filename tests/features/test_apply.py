"""``keel.features.plan`` and ``apply``: the diff against the store, checked as a whole,
registered all or none; bad declarations and sources leave every store as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keel.features as kf
from keel.context import current_context
from keel.data import register as register_dataset
from keel.errors import ConflictError
from keel.features import Entity, FeatureService, FeatureView


@pytest.fixture
def transactions(keel_home: Path) -> Any:
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
            "amount": [1.0, 2.0, 3.0],
            "orders": [1, 2, 3],
        }
    )
    return register_dataset(frame, "transactions")


CUSTOMER = Entity(name="customer", join_keys={"customer_id": "int64"})


def _view(**changes: Any) -> FeatureView:
    data: dict[str, Any] = {
        "name": "spend",
        "entities": ["customer"],
        "timestamp": "ts",
        "ttl": "7d",
        "source": "transactions",
        "features": {"amount": "float64", "orders": "int64"},
    }
    data.update(changes)
    return FeatureView(**data)


def _head() -> int:
    return current_context().store.governance.head().seq


def test_plan_apply_change_and_prune(transactions: Any) -> None:
    service = FeatureService(name="churn", features=["spend:amount"])
    first = kf.plan([CUSTOMER, _view(), service])
    assert [c.describe() for c in first.changes] == [
        "+ entity customer",
        "+ feature view spend",
        "+ feature service churn",
    ]
    assert _head() == 0  # a plan writes nothing
    applied = kf.apply([CUSTOMER, _view(), service], reason="first")
    assert applied.applied and [c.version for c in applied.changes] == [1, 1, 1]
    again = kf.apply([CUSTOMER, _view(), service])
    assert again.empty and _head() == 3
    changed = kf.apply([CUSTOMER, _view(ttl="1d", description="shorter"), service])
    (view_change,) = changed.of("change")
    assert view_change.fields == ("description", "ttl") and view_change.version == 2
    view, stored = kf.get_view("spend")
    assert view.ttl == 86400 and stored.version == 2
    assert kf.get_view("spend", 1)[0].ttl == 7 * 86400  # versions are immutable
    # a definition no longer declared is shown, and kept unless pruned
    kept = kf.apply([CUSTOMER, _view(ttl="1d", description="shorter")])
    assert [c.describe() for c in kept.of("remove")] == ["- feature service churn"]
    assert kf.get_service("churn")[0] == service
    pruned = kf.apply([CUSTOMER, _view(ttl="1d", description="shorter")], prune=True)
    assert pruned.of("remove")[0].version == 2
    with pytest.raises(kf.FeatureNotFoundError, match="'churn' was retired"):
        kf.get_service("churn")
    assert [d.name for d in kf.list_definitions()] == ["customer", "spend"]


def test_a_service_version_is_linked_to_its_views_versions(transactions: Any) -> None:
    from keel.store import LineageNode

    service = FeatureService(name="churn", features=["spend:amount"])
    kf.apply([CUSTOMER, _view(), service])
    kf.apply([CUSTOMER, _view(ttl="1d"), FeatureService(name="churn", features=["spend:*"])])
    lineage = current_context().store.lineage
    for version, view in ((1, "spend/1"), (2, "spend/2")):
        graph = lineage.upstream(LineageNode("feature_service", f"churn/{version}"))
        assert {(e.source.id, e.relation) for e in graph.edges} == {(view, "part_of")}
    # a new view version is linked to the service version that uses it
    kf.apply([CUSTOMER, _view(ttl="2d"), FeatureService(name="churn", features=["spend:*"])])
    graph = lineage.upstream(LineageNode("feature_service", "churn/2"))
    assert {e.source.id for e in graph.edges} == {"spend/2", "spend/3"}


def _unchanged(before: int) -> None:
    assert _head() == before
    assert kf.list_definitions() == [] or before > 0


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        (
            lambda: [_view()],
            kf.FeatureDefinitionError,
            "names entity 'customer', which is neither declared nor registered",
        ),
        (
            lambda: [CUSTOMER, _view(), FeatureService(name="s", features=["spend:nope"])],
            kf.FeatureDefinitionError,
            "view 'spend' has no feature 'nope' (its features: amount, orders)",
        ),
        (
            lambda: [CUSTOMER, FeatureService(name="s", features=["other:x"])],
            kf.FeatureDefinitionError,
            "there is no feature view 'other'",
        ),
        (
            lambda: [CUSTOMER, _view(timestamp="event_time")],
            kf.FeatureSourceError,
            "has no column 'event_time' (its timestamp); its columns are: customer_id, ts",
        ),
        (
            lambda: [
                Entity(name="customer", join_keys={"client_id": "int64"}),
                _view(),
            ],
            kf.FeatureSourceError,
            "has no column 'client_id' (a join key)",
        ),
        (
            lambda: [CUSTOMER, _view(features={"amount": "float64", "refunds": "int64"})],
            kf.FeatureSourceError,
            "has no column 'refunds' (a feature)",
        ),
        (
            lambda: [CUSTOMER, _view(timestamp="amount", features={"orders": "int64"})],
            kf.FeatureSourceError,
            "column 'amount' of the source of feature view 'spend' is DOUBLE, not a time",
        ),
        (
            lambda: [CUSTOMER, _view(source="nothing")],
            kf.FeatureSourceError,
            "dataset 'nothing' does not exist",
        ),
        (
            lambda: [CUSTOMER, _view(source={"parquet": "/no/such/file.parquet"})],
            kf.FeatureSourceError,
            "cannot be read",
        ),
    ],
)
def test_bad_declarations_register_nothing(
    transactions: Any, items: Any, error: type[Exception], message: str
) -> None:
    before = _head()
    with pytest.raises(error) as caught:
        kf.apply(items())
    assert message in str(caught.value), str(caught.value)
    assert _head() == before and kf.list_definitions() == []


def test_text_timestamps_mixed_zones_or_unparseable_are_refused(keel_home: Path) -> None:
    def frame(times: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"customer_id": [1, 2], "ts": times, "amount": [1.0, 2.0]})

    register_dataset(frame(["2024-01-01 00:00:00+02:00", "2024-01-02 00:00:00"]), "mixed")
    register_dataset(frame(["2024-01-01 00:00:00", "yesterday"]), "garbled")
    register_dataset(frame(["2024-01-01T00:00:00Z", "2024-01-02 10:00:00-05:00"]), "zoned")
    view = _view(features={"amount": "float64"}, ttl=None)
    with pytest.raises(kf.FeatureSourceError, match=r"mixes times with a UTC offset"):
        kf.apply([CUSTOMER, view.model_copy(update={"source": kf.Source(dataset="mixed")})])
    with pytest.raises(
        kf.FeatureSourceError, match=r"1 value\(s\) that are not times, e.g. 'yesterday'"
    ):
        kf.apply([CUSTOMER, view.model_copy(update={"source": kf.Source(dataset="garbled")})])
    assert _head() == 0
    ok = kf.apply([CUSTOMER, view.model_copy(update={"source": kf.Source(dataset="zoned")})])
    assert ok.summary().startswith("2 added")


def test_sql_sources_read_datasets(transactions: Any) -> None:
    view = _view(
        source={
            "sql": "SELECT customer_id, ts, amount * 2 AS amount, orders FROM transactions",
            "datasets": ["transactions"],
        }
    )
    assert kf.apply([CUSTOMER, view]).summary().startswith("2 added")
    bad = _view(
        name="broken",
        source={"sql": "SELECT * FROM nowhere", "datasets": ["transactions"]},
    )
    with pytest.raises(kf.FeatureSourceError, match="cannot be read: .*nowhere"):
        kf.apply([CUSTOMER, view, bad])


def test_pruning_an_entity_a_view_uses_is_refused(transactions: Any) -> None:
    kf.apply([CUSTOMER, _view()])
    with pytest.raises(kf.FeatureDefinitionError, match="names entity 'customer'"):
        kf.apply([_view()], prune=True)
    assert _head() == 2


def test_a_change_made_meanwhile_is_a_conflict(transactions: Any) -> None:
    kf.apply([CUSTOMER, _view()])
    stale = kf.plan([CUSTOMER, _view(ttl="2d")])
    kf.apply([CUSTOMER, _view(ttl="3d")])
    from keel.store import FeatureChange

    change = stale.of("change")[0]
    with pytest.raises(ConflictError, match="is at version 2"):
        current_context().store.features.apply_changes(
            [
                FeatureChange(
                    change.kind, change.name, _view(ttl="2d").spec(), change.registered.version
                )
            ],  # type: ignore[union-attr]
            "ann",
        )
