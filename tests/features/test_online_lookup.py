"""``get_online_features`` and the prepared lookup: what is asked for, by name or service;
nulls for what is not there or too old; bad requests named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keel.features as kf
from keel.errors import InvalidArgumentError
from keel.features import (
    Entity,
    FeatureNotFoundError,
    FeatureRequestError,
    FeatureService,
    FeatureView,
)

T = pd.Timestamp("2026-03-01", tz="UTC")
DRIVER = Entity(name="driver", join_keys={"driver_id": "int64"})
RIDER = Entity(name="rider", join_keys={"rider": "string"})


@pytest.fixture
def registered(tmp_path: Path) -> None:
    a = pd.DataFrame(
        {
            "driver_id": [1, 2],
            "ts": [T, T - pd.Timedelta(days=3)],
            "trips": [10, 20],
            "rating": [4.5, 3.5],
        }
    )
    a.to_parquet(tmp_path / "a.parquet")
    b = pd.DataFrame({"driver_id": [1], "rider": ["r1"], "ts": [T], "score": [0.25]})
    b.to_parquet(tmp_path / "b.parquet")
    c = pd.DataFrame({"driver_id": [1], "ts": [T], "trips": [99]})
    c.to_parquet(tmp_path / "c.parquet")
    views = [
        FeatureView(
            name="stats",
            entities=["driver"],
            timestamp="ts",
            ttl="2d",
            source={"parquet": str(tmp_path / "a.parquet")},
            features={"trips": "int64", "rating": "float64"},
        ),
        FeatureView(
            name="pair",
            entities=["driver", "rider"],
            timestamp="ts",
            source={"parquet": str(tmp_path / "b.parquet")},
            features={"score": "float64"},
        ),
        FeatureView(
            name="other",
            entities=["driver"],
            timestamp="ts",
            source={"parquet": str(tmp_path / "c.parquet")},
            features={"trips": "int64"},
        ),
    ]
    service = FeatureService(name="model", features=["stats:*", "pair:score"])
    kf.apply([DRIVER, RIDER, *views, service])
    kf.materialize()


AT = T + pd.Timedelta(days=1)


def test_a_service_gives_its_features_from_two_views(registered: None) -> None:
    rows = [{"driver_id": 1, "rider": "r1"}, {"driver_id": 2, "rider": "r1"}]
    out = kf.get_online_features(rows, "model", at=AT)
    assert out.values == {"trips": [10, None], "rating": [4.5, None], "score": [0.25, None]}
    # driver 2's stats are 4 days old, beyond the 2-day TTL: null, but its age is given
    assert out.ages["trips"] == [86400.0, 4 * 86400.0]
    assert out.ages["score"] == [86400.0, None]
    assert (out.missing, out.expired) == (1, 1)
    assert out.rows()[0] == {
        "driver_id": 1,
        "rider": "r1",
        "trips": 10,
        "rating": 4.5,
        "score": 0.25,
    }
    assert list(out.to_pandas().columns) == ["driver_id", "rider", "trips", "rating", "score"]


def test_the_prepared_lookup_answers_many_requests(registered: None) -> None:
    with kf.prepare_online_features(["stats:trips", "pair:score"]) as lookup:
        assert lookup.features == ("trips", "score")
        assert lookup.join_keys == ("driver_id", "rider")
        for _ in range(3):
            out = lookup.get([{"driver_id": "1", "rider": "r1"}], at=AT)
            assert out.values == {"trips": [10], "score": [0.25]}
        frame = pd.DataFrame({"driver_id": [2, 1], "rider": ["x", "r1"]})
        # at: the clock of ages and TTLs (driver 2's value is exactly the TTL old: kept)
        early = lookup.get(frame, at=T - pd.Timedelta(days=1))
        assert early.values == {"trips": [20, 10], "score": [None, 0.25]}
        assert early.ages["trips"] == [2 * 86400.0, -86400.0]
        assert lookup.get([], at=T).values == {"trips": [], "score": []}


def test_requests_that_cannot_be_answered_are_named(registered: None) -> None:
    with pytest.raises(
        FeatureRequestError, match="'trips' is asked for from views 'stats' and 'other'"
    ):
        kf.get_online_features([{"driver_id": 1}], ["stats:trips", "other:trips"])
    with pytest.raises(
        FeatureNotFoundError, match="no feature 'speed'; its features are: trips, rating"
    ):
        kf.get_online_features([{"driver_id": 1}], ["stats:speed"])
    with pytest.raises(FeatureNotFoundError, match="nope"):
        kf.get_online_features([{"driver_id": 1}], ["nope:x"])
    with pytest.raises(FeatureRequestError, match="VIEW:FEATURE"):
        kf.get_online_features([{"driver_id": 1}], ["stats.trips", "stats:rating:x"])
    with pytest.raises(FeatureRequestError, match="no features"):
        kf.get_online_features([{"driver_id": 1}], [])
    with pytest.raises(InvalidArgumentError, match="has no key 'rider'"):
        kf.get_online_features([{"driver_id": 1}], ["pair:score"])
    with pytest.raises(InvalidArgumentError, match="string or an integer"):
        kf.get_online_features([{"driver_id": 1.5}], ["stats:trips"])
    with pytest.raises(FeatureRequestError, match="not a mapping"):
        kf.get_online_features([1, 2], ["stats:trips"])
    with pytest.raises(FeatureRequestError, match="different lengths"):
        kf.get_online_features({"driver_id": [1, 2], "rider": ["a"]}, ["stats:trips"])
    with pytest.raises(InvalidArgumentError, match="at 'soon' is not a time"):
        kf.get_online_features([{"driver_id": 1}], ["stats:trips"], at="soon")


def test_nothing_materialized_gives_nulls(tmp_path: Path) -> None:
    pd.DataFrame({"driver_id": [1], "ts": [T], "trips": [1]}).to_parquet(tmp_path / "x.parquet")
    view = FeatureView(
        name="fresh",
        entities=["driver"],
        timestamp="ts",
        source={"parquet": str(tmp_path / "x.parquet")},
        features={"trips": "int64"},
    )
    kf.apply([DRIVER, view])
    out: Any = kf.get_online_features([{"driver_id": 1}], ["fresh:trips"])
    assert out.values == {"trips": [None]} and out.missing == 1
