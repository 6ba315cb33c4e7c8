"""get_historical_features agrees with a brute-force oracle on random data: ties, nulls,
TTLs, created-at columns, several views, keys that have no rows, events before any row.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import keel.features as kf

BASE = dt.datetime(2024, 1, 1)
VIEWS = {
    # name: (created_at column or None, ttl in hours or None)
    "plain": (None, None),
    "short": (None, 3),
    "known": ("loaded", None),
    "known_ttl": ("loaded", 4),
}

rows = st.lists(
    st.tuples(
        st.integers(0, 3),  # key
        st.integers(0, 12),  # event hour: few values, so ties are common
        st.integers(-2, 6),  # created-at hours after the event (may be before it)
        st.one_of(st.none(), st.floats(-100, 100, allow_nan=False)),  # value
    ),
    max_size=40,
)
events = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-1, 16)),  # key 4 never has rows
    min_size=1,
    max_size=30,
)


def _oracle(source: list[tuple[int, int, int, float | None]], key: int, t: int, view: str) -> Any:
    created, ttl = VIEWS[view]
    best = None
    for order, (k, ts, delay, value) in enumerate(source):
        loaded = ts + delay
        if k != key or ts > t or (created is not None and loaded > t):
            continue
        rank = (ts, loaded if created is not None else 0, order)
        if best is None or rank > best[0]:
            best = (rank, ts, value)
    if best is None:
        return None
    _, ts, value = best
    if ttl is not None and ts < t - ttl:
        return None
    return value


@pytest.fixture
def declared(keel_home: Path, tmp_path: Path) -> Path:
    path = tmp_path / "source.parquet"
    _write(path, [(0, 0, 0, 1.0)])
    customer = kf.Entity(name="customer", join_keys={"customer_id": "int64"})
    views = [
        kf.FeatureView(
            name=name,
            entities=["customer"],
            timestamp="ts",
            created_at=created,
            ttl=None if ttl is None else ttl * 3600,
            source={"parquet": str(path)},
            features={f"{name}_value": "float64"},
        )
        for name, (created, ttl) in VIEWS.items()
    ]
    kf.apply([customer, *views])
    return path


def _write(path: Path, source: list[tuple[int, int, int, float | None]]) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([r[0] for r in source], dtype="int64"),
            "ts": pd.Series(
                [BASE + dt.timedelta(hours=r[1]) for r in source], dtype="datetime64[us]"
            ),
            "loaded": pd.Series(
                [BASE + dt.timedelta(hours=r[1] + r[2]) for r in source], dtype="datetime64[us]"
            ),
        }
    )
    for name in VIEWS:
        frame[f"{name}_value"] = pd.Series([r[3] for r in source], dtype="float64")
    frame.to_parquet(path)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.parametrize(
    ("names", "engine"),
    [
        # views without created_at: the Polars join when Polars is installed (one
        # integer key: packed with the time into one column)...
        (("plain", "short"), "auto"),
        # ...the Polars join grouped by the keys (any keys)...
        (("plain", "short"), "grouped"),
        # ...and the DuckDB join on the same views
        (("plain", "short"), "duckdb"),
        # a created_at view in the request: the DuckDB join for all
        (tuple(VIEWS), "auto"),
    ],
)
@given(source=rows, entity_rows=events)
def test_matches_the_oracle(
    declared: Path,
    monkeypatch: pytest.MonkeyPatch,
    names: tuple[str, ...],
    engine: str,
    source: list[tuple[int, int, int, float | None]],
    entity_rows: list[tuple[int, int]],
) -> None:
    monkeypatch.setenv("KEEL_FEATURES_JOIN", engine)
    _write(declared, source)
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([e[0] for e in entity_rows], dtype="int64"),
            "event_timestamp": pd.Series(
                [BASE + dt.timedelta(hours=e[1]) for e in entity_rows], dtype="datetime64[us]"
            ),
            "row": range(len(entity_rows)),
        }
    )
    refs = [f"{name}:{name}_value" for name in names]
    with kf.get_historical_features(frame, refs) as result:
        got = result.to_pandas()
        report = result.report
    assert list(got["row"]) == list(range(len(entity_rows)))  # every row, in order
    assert report.rows == len(entity_rows)
    for name in names:
        expected = [_oracle(source, k, t, name) for k, t in entity_rows]
        column = [None if (v is None or math.isnan(v)) else v for v in got[f"{name}_value"]]
        assert column == expected, name
        assert report.nulls[f"{name}_value"] == sum(v is None for v in expected)
