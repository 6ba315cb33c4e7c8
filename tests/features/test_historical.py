"""get_historical_features: many views in one call, every row kept and in order, the
report, feature services, time zones, lineage to a registered dataset and through
keel.train to the model; bad requests are clear errors that change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keel
import keel.features as kf
from keel.context import current_context
from keel.data import register as register_dataset
from keel.store import LineageNode


@pytest.fixture
def declared(keel_home: Path) -> dict[str, Any]:
    spend = register_dataset(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 2, 2],
                "ts": pd.to_datetime(
                    [
                        "2024-01-01 00:00",
                        "2024-01-03 00:00",
                        "2024-01-02 00:00",
                        "2024-01-05 00:00",
                    ],
                    utc=True,
                ),
                "amount": [1.0, 3.0, 10.0, 50.0],
                "orders": [1, 2, 1, 2],
            }
        ),
        "spend-raw",
    )
    profile = register_dataset(
        pd.DataFrame(
            {
                "customer_id": [1, 2],
                "updated": pd.to_datetime(["2023-12-01", "2023-12-01"]),  # naive: UTC
                "age": [30, 40],
                "amount": [7.0, 8.0],  # the same feature name as in spend
            }
        ),
        "profile-raw",
    )
    customer = kf.Entity(name="customer", join_keys={"customer_id": "int64"})
    kf.apply(
        [
            customer,
            kf.FeatureView(
                name="spend",
                entities=["customer"],
                timestamp="ts",
                ttl="2d",
                source="spend-raw",
                features={"amount": "float64", "orders": "int64"},
            ),
            kf.FeatureView(
                name="profile",
                entities=["customer"],
                timestamp="updated",
                source="profile-raw",
                features={"age": "int64", "amount": "float64"},
            ),
            kf.FeatureService(name="churn", features=["spend:amount", "profile:age"]),
        ]
    )
    return {"spend": spend, "profile": profile}


def _events(**extra: Any) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": [2, 1, 1, 3, 2],
            "event_timestamp": pd.to_datetime(
                [
                    "2024-01-05 00:00",  # 2: at the very instant of a row: it counts
                    "2024-01-02 12:00",
                    "2024-01-06 00:00",  # 1: last row 01-03 is older than the 2d TTL
                    "2024-01-04 00:00",  # 3: no rows at all
                    "2024-01-01 00:00",  # 2: before its first row
                ],
                utc=True,
            ),
            "label": [1, 0, 1, 0, 1],
        }
    )
    for k, v in extra.items():
        frame[k] = v
    return frame


def test_many_views_every_row_in_order_with_a_report(declared: dict[str, Any]) -> None:
    with kf.get_historical_features(
        _events(), ["spend:amount", "spend:orders", "profile:age"]
    ) as result:
        got = result.to_pandas()
        report = result.report
        path = result.path
        assert path.exists()
    assert not path.exists()  # closing removes the file
    assert list(got.columns) == [
        "customer_id",
        "event_timestamp",
        "label",
        "amount",
        "orders",
        "age",
    ]
    assert list(got["label"]) == [1, 0, 1, 0, 1]
    assert got["amount"].tolist()[:2] == [50.0, 1.0]
    assert got["amount"].isna().tolist() == [False, False, True, True, True]
    assert got["age"].tolist()[:3] == [40, 30, 30] and got["age"].isna().tolist()[3:] == [
        True,
        False,
    ]
    assert report.rows == 5
    assert report.nulls == {"amount": 3, "orders": 3, "age": 1}
    assert report.rows_without_value == {"spend": 3, "profile": 1}
    assert report.views == {"spend": "spend/1", "profile": "profile/1"}
    assert report.datasets == ("spend-raw/1", "profile-raw/1")
    assert "5 rows; no value from spend for 3" in report.summary()


def test_services_wildcards_and_full_names(declared: dict[str, Any]) -> None:
    by_name = kf.get_historical_features(_events(), "churn").to_pandas()
    by_object = kf.get_historical_features(
        _events(), kf.FeatureService(name="x", features=["spend:amount", "profile:age"])
    ).to_pandas()
    assert by_name.equals(by_object) and list(by_name.columns)[-2:] == ["amount", "age"]
    full = kf.get_historical_features(
        _events(), ["spend:*", "profile:*"], full_feature_names=True
    ).to_pandas()
    assert list(full.columns)[3:] == [
        "spend__amount",
        "spend__orders",
        "profile__age",
        "profile__amount",
    ]
    assert full["profile__amount"].fillna(-1).tolist() == [8.0, 7.0, 7.0, -1, 8.0]


def test_times_in_any_zone_and_text_compare_as_instants(declared: dict[str, Any]) -> None:
    # 2024-01-05 01:00 in UTC+02:00 is 2024-01-04 23:00 UTC: before customer 2's 01-05
    # row, and its 01-02 row is then older than the 2d TTL
    zoned = pd.DataFrame(
        {
            "customer_id": [2, 2, 2],
            "event_timestamp": pd.to_datetime(
                ["2024-01-03 01:00", "2024-01-05 01:00", "2024-01-05 03:00"]
            ).tz_localize("Etc/GMT-2"),
        }
    )
    got = kf.get_historical_features(zoned, ["spend:amount"]).to_pandas()
    assert got["amount"].fillna(-1).tolist() == [10.0, -1, 50.0]
    text = pd.DataFrame(
        {
            "customer_id": [2, 2, 2],
            "event_timestamp": [
                "2024-01-03T01:00:00+02:00",
                "2024-01-05T01:00:00+02:00",
                "2024-01-05T01:00:00Z",
            ],
        }
    )
    got = kf.get_historical_features(text, ["spend:amount"]).to_pandas()
    assert got["amount"].fillna(-1).tolist() == [10.0, -1, 50.0]


def test_registered_training_data_has_lineage(declared: dict[str, Any]) -> None:
    events = register_dataset(_events(), "events")
    result = kf.get_historical_features(events, ["spend:amount", "profile:age"])
    assert result.report.datasets[0] == "events/1"
    train = result.register("churn-train", description="training data")
    assert train.parent_ids == (events.id,)
    assert train.derivation is not None and train.derivation["views"] == {
        "spend": "spend/1",
        "profile": "profile/1",
    }
    lineage = current_context().store.lineage
    up = lineage.upstream(train.lineage_node())
    relations = {(e.source.kind, e.source.id, e.relation) for e in up.edges}
    assert ("feature_view", "spend/1", "features_into") in relations
    assert ("feature_view", "profile/1", "features_into") in relations
    assert ("dataset_version", events.id, "entities_into") in relations
    assert ("dataset_version", declared["spend"].id, "source_of") in relations


def test_features_to_training_data_to_run_to_model(declared: dict[str, Any]) -> None:
    from sklearn.tree import DecisionTreeClassifier

    result = kf.get_historical_features(_events(), ["spend:orders", "profile:age"])
    frame = result.to_pandas().fillna(0)
    result.close()
    result = kf.get_historical_features(
        frame.drop(columns=["orders", "age"]), ["spend:orders", "profile:age"]
    )
    train = result.register("churn-train")
    fitted = keel.train(
        DecisionTreeClassifier(max_depth=2),
        train,
        target="label",
        features=["orders", "age"],
        cv=None,
        evaluation=False,
    )
    version = keel.models.register(fitted.run_id, "churn")
    down = current_context().store.lineage.downstream(LineageNode("feature_view", "spend/1"))
    ids = {(n.kind, n.id) for n in down.nodes}
    assert ("dataset_version", train.id) in ids
    assert ("run", fitted.run_id) in ids
    assert any(kind == "model_version" and nid.startswith("churn") for kind, nid in ids), ids
    assert version.version == 1


def _nothing_changed(before: tuple[int, int]) -> None:
    ctx = current_context()
    assert (ctx.store.governance.head().seq, len(ctx.store.datasets.list_datasets())) == before


@pytest.mark.parametrize(
    ("frame", "features", "options", "error", "message"),
    [
        (
            lambda: _events().drop(columns=["event_timestamp"]),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "the entity rows have no event-time column 'event_timestamp'; their columns are: "
            "customer_id, label",
        ),
        (
            lambda: _events().rename(columns={"event_timestamp": "when"}),
            ["spend:amount"],
            {"event_timestamp": "at"},
            kf.FeatureRequestError,
            "no event-time column 'at'",
        ),
        (
            lambda: _events().drop(columns=["customer_id"]),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "the entity rows have no join key 'customer_id', which feature view 'spend' needs",
        ),
        (
            _events,
            ["spend:amount", "profile:amount"],
            {},
            kf.FeatureRequestError,
            "feature 'amount' is requested from feature views 'spend' and 'profile'; output "
            "columns must differ: pass full_feature_names=True",
        ),
        (
            _events,
            ["spnd:amount"],
            {},
            kf.FeatureNotFoundError,
            "did you mean spend? feature views are: profile, spend",
        ),
        (
            _events,
            ["spend:amout"],
            {},
            kf.FeatureNotFoundError,
            "feature view 'spend' (version 1) has no feature 'amout'; its features are: "
            "amount, orders",
        ),
        (
            _events,
            "nochurn",
            {},
            kf.FeatureNotFoundError,
            "feature service 'nochurn' is not registered",
        ),
        (
            _events,
            ["spend.amount"],
            {},
            kf.FeatureRequestError,
            "feature reference 'spend.amount' is malformed",
        ),
        (
            lambda: _events(amount=1.0),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "the entity rows already have a column 'amount'",
        ),
        (
            lambda: _events(
                event_timestamp=[
                    "2024-01-01 00:00",
                    "2024-01-02 00:00+01:00",
                    "2024-01-03 00:00",
                    "2024-01-04 00:00",
                    "2024-01-05 00:00",
                ]
            ),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "mixes times with a UTC offset",
        ),
        (
            lambda: _events(event_timestamp=["2024-01-01", "soon", "x", "y", "z"]),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "value(s) that are not times, e.g.",
        ),
        (
            lambda: _events(event_timestamp=[1, 2, 3, 4, 5]),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "is BIGINT, not a time",
        ),
        (
            lambda: _events(customer_id=["a", "b", "c", "d", "e"]),
            ["spend:amount"],
            {},
            kf.FeatureRequestError,
            "does not convert to the entity's declared type",
        ),
        (
            _events,
            [],
            {},
            kf.FeatureRequestError,
            "no features requested",
        ),
    ],
)
def test_bad_requests_are_clear_and_change_nothing(
    declared: dict[str, Any],
    frame: Any,
    features: Any,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    ctx = current_context()
    before = (ctx.store.governance.head().seq, len(ctx.store.datasets.list_datasets()))
    tmp = ctx.settings.home / "tmp"
    leftovers = set(tmp.iterdir()) if tmp.exists() else set()
    with pytest.raises(error) as caught:
        kf.get_historical_features(frame(), features, **options)
    assert message in str(caught.value), str(caught.value)
    _nothing_changed(before)
    assert (set(tmp.iterdir()) if tmp.exists() else set()) == leftovers  # no file left


def test_a_source_that_lost_a_column_is_named(keel_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "spend.parquet"
    pd.DataFrame(
        {"customer_id": [1], "ts": pd.to_datetime(["2024-01-01"]), "amount": [1.0]}
    ).to_parquet(path)
    kf.apply(
        [
            kf.Entity(name="customer", join_keys={"customer_id": "int64"}),
            kf.FeatureView(
                name="spend",
                entities=["customer"],
                timestamp="ts",
                source={"parquet": str(path)},
                features={"amount": "float64"},
            ),
        ]
    )
    pd.DataFrame({"customer_id": [1], "amount": [1.0]}).to_parquet(path)  # ts is gone
    with pytest.raises(kf.FeatureSourceError, match="has no column 'ts' \\(its timestamp\\)"):
        kf.get_historical_features(_events(), ["spend:amount"])
    pd.DataFrame({"ts": pd.to_datetime(["2024-01-01"]), "amount": [1.0]}).to_parquet(path)
    with pytest.raises(kf.FeatureSourceError, match="has no column 'customer_id' \\(a join key\\)"):
        kf.get_historical_features(_events(), ["spend:amount"])
    pd.DataFrame(
        {
            "customer_id": [1, 1],
            "ts": ["2024-01-01", "2024-01-02 00:00+01:00"],
            "amount": [1.0, 2.0],
        }
    ).to_parquet(path)
    with pytest.raises(kf.FeatureSourceError, match="mixes times with a UTC offset"):
        kf.get_historical_features(_events(), ["spend:amount"])


def test_entity_rows_from_files(declared: dict[str, Any], tmp_path: Path) -> None:
    _events().to_parquet(tmp_path / "events.parquet")
    _events().to_csv(tmp_path / "events.csv", index=False)
    a = kf.get_historical_features(tmp_path / "events.parquet", ["spend:amount"]).to_pandas()
    b = kf.get_historical_features(str(tmp_path / "events.csv"), ["spend:amount"]).to_pandas()
    assert (
        a["amount"].isna().tolist()
        == b["amount"].isna().tolist()
        == [False, False, True, True, True]
    )
    with pytest.raises(kf.FeatureRequestError, match="no such file"):
        kf.get_historical_features(tmp_path / "nope.parquet", ["spend:amount"])


def test_too_little_memory_is_a_clear_error(
    declared: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from keel.errors import ConfigError
    from keel.features import _historical

    monkeypatch.setattr(_historical, "MEMORY_LIMIT", "1MB")
    rng = np.random.default_rng(0)
    events = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 3, 200_000),
            "event_timestamp": pd.Timestamp("2024-01-04", tz="UTC"),
        }
    )
    with pytest.raises(ConfigError, match="raise KEEL_FEATURES_MEMORY_LIMIT"):
        kf.get_historical_features(events, ["spend:amount", "profile:age"])


def test_rows_with_null_keys_or_times_are_kept_with_nulls(declared: dict[str, Any]) -> None:
    events = pd.DataFrame(
        {
            "customer_id": pd.array([1, None, 1], dtype="Int64"),
            "event_timestamp": pd.to_datetime(["2024-01-02", "2024-01-02", None], utc=True),
        }
    )
    result = kf.get_historical_features(events, ["spend:amount", "profile:age"])
    got = result.to_pandas()
    assert got["amount"].fillna(-1).tolist() == [1.0, -1, -1]
    assert got["age"].fillna(-1).tolist() == [30, -1, -1]
    assert result.report.rows == 3 and result.report.rows_without_value == {
        "spend": 2,
        "profile": 2,
    }


def test_polars_and_duckdb_joins_agree_on_text_keys_types_and_empty_sources(
    keel_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = pd.Timestamp("2024-01-01", tz="UTC")
    hour = pd.Timedelta(hours=1)
    source = pd.DataFrame(
        {
            "code": ["a", "a", "b", None, "c"],
            "ts": [base, base, base + hour, base, base + 5 * hour],
            "v": [1.0, 2.0, None, 4.0, 5.0],
            "when": [base] * 5,
            "n": [1, 2, 3, 4, 5],
            "s": ["x", "y", "z", "w", "q"],
            "flag": [True, False, True, None, True],
        }
    )
    source.to_parquet(tmp_path / "src.parquet")
    source.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    kf.apply(
        [
            kf.Entity(name="acct", join_keys={"code": "string"}),
            kf.FeatureView(
                name="sv",
                entities=["acct"],
                timestamp="ts",
                ttl="3h",
                source={"parquet": str(tmp_path / "src.parquet")},
                features={
                    "v": "float64",
                    "when": "timestamp",
                    "n": "int64",
                    "s": "string",
                    "flag": "bool",
                },
            ),
            kf.FeatureView(
                name="ev",
                entities=["acct"],
                timestamp="ts",
                source={"parquet": str(tmp_path / "empty.parquet")},
                features={"v": "float64"},
            ),
        ]
    )
    events = pd.DataFrame(
        {
            "code": ["a", "b", None, "c", "zz", "a"],
            "event_timestamp": [base + h * hour for h in (0, 2, 1, 4, 1, 9)],
            "x": range(6),
        }
    )
    got = {}
    for engine in ("auto", "duckdb"):
        monkeypatch.setenv("KEEL_FEATURES_JOIN", engine)
        for name, frame in (("rows", events), ("none", events.iloc[:0])):
            with kf.get_historical_features(frame, ["sv:*", "ev:v"], full_feature_names=True) as r:
                got[engine, name] = (r.to_arrow(), r.report)
    for name in ("rows", "none"):
        assert got["auto", name][0].schema == got["duckdb", name][0].schema
        assert got["auto", name][0].equals(got["duckdb", name][0])
        assert got["auto", name][1] == got["duckdb", name][1]
    table = got["auto", "rows"][0].to_pydict()
    # the tie at 00:00 for "a" goes to the later row; "a" at 09:00 is past the 3 h TTL
    assert table["sv__v"] == [2.0, None, None, None, None, None]
    assert table["sv__s"] == ["y", "z", None, None, None, None]
    assert table["ev__v"] == [None] * 6
