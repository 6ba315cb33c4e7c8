"""Reference sketches are deterministic, serialisable, mergeable and bounded."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from keel.monitoring import (
    CategoricalSketch,
    NumericSketch,
    ReferenceSketch,
    SketchFormatError,
    drift,
)
from keel.monitoring._sketch import MAGIC


def _table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 2, n)
    x[::97] = np.nan
    return pa.table(
        {
            "x": x,
            "k": rng.integers(0, 4, n),  # integer with few values: categorical
            "i": rng.integers(0, 1000, n),
            "s": rng.choice(["a", "b", "c", "d"], n),
            "b": rng.random(n) > 0.3,
        }
    )


def test_same_data_gives_the_same_bytes() -> None:
    one = ReferenceSketch.from_table(_table(20_000)).to_bytes()
    two = ReferenceSketch.from_table(_table(20_000)).to_bytes()
    assert one == two
    assert one.startswith(MAGIC)


def test_round_trip_through_bytes_and_json() -> None:
    sketch = ReferenceSketch.from_table(_table(8_000), max_points=256)
    again = ReferenceSketch.from_bytes(sketch.to_bytes())
    from_json = ReferenceSketch.from_dict(json.loads(sketch.to_json()))
    for other in (again, from_json):
        assert other.to_bytes() == sketch.to_bytes()
        assert list(other.columns) == ["x", "k", "i", "s", "b"]
    x = again.columns["x"]
    assert isinstance(x, NumericSketch)
    assert not x.exact and x.values.shape[0] <= 256
    assert x.count + x.nulls == 8_000


def test_numeric_sketch_moments_and_counts_are_exact() -> None:
    table = _table(30_000)
    x = ReferenceSketch.from_table(table, max_points=128).columns["x"]
    assert isinstance(x, NumericSketch)
    values = table.column("x").to_numpy()
    finite = values[np.isfinite(values)]
    assert x.count == finite.shape[0] and x.nulls == values.shape[0] - finite.shape[0]
    assert x.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert x.std == pytest.approx(np.std(finite), rel=1e-12)
    assert (x.minimum, x.maximum) == (finite.min(), finite.max())
    assert int(x.weights.sum()) == x.count  # type: ignore[union-attr]


def test_small_columns_are_exact_and_integer_columns_with_few_values_are_categorical() -> None:
    sketch = ReferenceSketch.from_table(_table(3_000))
    assert all(
        isinstance(c, NumericSketch) and c.exact for c in (sketch.columns["x"], sketch.columns["i"])
    )
    assert sketch.columns["k"].effective_kind == "categorical"
    assert sketch.columns["i"].effective_kind == "numeric"
    s = sketch.columns["s"]
    assert isinstance(s, CategoricalSketch) and sorted(s.categories) == ["a", "b", "c", "d"]


def test_merged_halves_equal_the_whole_where_exact() -> None:
    table = _table(10_000)
    whole = ReferenceSketch.from_table(table)
    merged = ReferenceSketch.from_table(table.slice(0, 4_000)).merge(
        ReferenceSketch.from_table(table.slice(4_000))
    )
    assert merged.num_rows == whole.num_rows
    for name in ("k", "i"):
        a, b = whole.columns[name], merged.columns[name]
        assert isinstance(a, NumericSketch) and isinstance(b, NumericSketch)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.weights, b.weights)  # type: ignore[arg-type]
        assert b.mean == pytest.approx(a.mean, rel=1e-12) and b.m2 == pytest.approx(a.m2, rel=1e-9)
    s_whole, s_merged = whole.columns["s"], merged.columns["s"]
    assert isinstance(s_whole, CategoricalSketch) and isinstance(s_merged, CategoricalSketch)
    assert s_whole.category_counts() == s_merged.category_counts()


def test_merged_compacted_sketches_stay_close_to_the_exact_drift() -> None:
    rng = np.random.default_rng(1)
    ref = pa.table({"x": rng.normal(size=200_000)})
    cur = pa.table({"x": rng.normal(0.05, 1.1, size=50_000)})
    exact = drift(ref, cur)["x"]
    windows = [
        ReferenceSketch.from_table(ref.slice(i, 50_000), max_points=1024)
        for i in range(0, 200_000, 50_000)
    ]
    merged = windows[0].merge(windows[1]).merge(windows[2]).merge(windows[3])
    approx = drift(merged, cur)["x"]
    assert approx.approximate and not exact.approximate
    assert approx.test == exact.test == "wasserstein"
    assert abs(approx.score - exact.score) < 0.01  # type: ignore[operator]
    ks = drift(merged, cur, tests="ks")["x"]
    assert abs(ks.statistic - drift(ref, cur, tests="ks")["x"].statistic) < 0.005  # type: ignore[operator]


def test_sketch_as_reference_gives_the_exact_result_when_exact() -> None:
    table = _table(3_000)
    other = _table(3_000, seed=5)
    direct = drift(table, other)
    via_sketch = drift(ReferenceSketch.from_table(table), other)
    for a, b in zip(direct.columns, via_sketch.columns, strict=True):
        assert (a.column, a.test, a.drifted) == (b.column, b.test, b.drifted)
        assert a.score == pytest.approx(b.score, abs=1e-9)
        assert not b.approximate


def test_high_cardinality_categories_are_bounded() -> None:
    n = 100_000
    ids = pa.table({"id": [f"user-{i}" for i in range(n)]})
    sketch = ReferenceSketch.from_table(ids, max_categories=500)
    column = sketch.columns["id"]
    assert isinstance(column, CategoricalSketch)
    assert len(column.categories) == 500 and column.truncated
    assert column.other_count == n - 500 and column.distinct == n
    assert len(sketch.to_bytes()) < 20_000


def test_bad_bytes_and_newer_formats_are_refused() -> None:
    with pytest.raises(SketchFormatError, match="not a keel reference sketch"):
        ReferenceSketch.from_bytes(b"PAR1....")
    with pytest.raises(SketchFormatError, match="damaged"):
        ReferenceSketch.from_bytes(MAGIC + b"garbage")
    data = ReferenceSketch.from_table(_table(100)).to_dict()
    data["format_version"] = 99
    with pytest.raises(SketchFormatError, match="newer than this keel reads"):
        ReferenceSketch.from_dict(data)


def test_merge_refuses_different_columns() -> None:
    a = ReferenceSketch.from_table(pa.table({"x": [1.0, 2.0]}))
    b = ReferenceSketch.from_table(pa.table({"y": [1.0, 2.0]}))
    with pytest.raises(Exception, match="different columns"):
        a.merge(b)


def test_empty_numeric_column_sketch_is_serialisable() -> None:
    sketch = ReferenceSketch.from_table(pa.table({"x": pa.array([None, None], pa.float64())}))
    again = ReferenceSketch.from_bytes(sketch.to_bytes())
    x = again.columns["x"]
    assert isinstance(x, NumericSketch) and x.count == 0 and x.nulls == 2 and math.isnan(x.minimum)
