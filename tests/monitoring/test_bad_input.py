"""Bad input to drift: each gives a clear result or a clear error."""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from keel.monitoring import DriftInputError, ReferenceSketch, drift


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y", "z"], n)})


def test_different_columns_are_reported_not_fatal() -> None:
    ref = _frame(500).assign(only_ref=1.0)
    cur = _frame(500, seed=1).assign(only_cur="q")
    report = drift(ref, cur)
    assert report.missing_columns == ("only_ref",)
    assert report.new_columns == ("only_cur",)
    assert [c.column for c in report.columns] == ["a", "b"]


def test_columns_in_neither_table_are_an_error() -> None:
    with pytest.raises(DriftInputError, match=r"columns \['nope'\] are in neither table"):
        drift(_frame(10), _frame(10), columns=["a", "nope"])


def test_all_null_columns_are_skipped_and_reported() -> None:
    ref = _frame(600)
    cur = _frame(600, seed=1)
    cur["a"] = np.nan
    cur["b"] = None
    report = drift(ref, cur)
    assert report["a"].skipped == "no non-null values in the current data"
    assert report["b"].skipped is not None and "null" in report["b"].skipped
    assert report.tested_columns == () and not report.dataset_drift
    rates = {c.column: (c.reference_rate, c.current_rate) for c in report.null_rate_changes}
    assert rates == {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    ref_null = drift(cur, ref)
    assert ref_null["a"].skipped == "no non-null values in the reference"


def test_arrow_null_type_column() -> None:
    ref = pa.table({"a": pa.nulls(100), "b": np.arange(100.0)})
    report = drift(ref, ref)
    assert report["a"].skipped == "all values are null in the reference"
    assert report["b"].tested and not report["b"].drifted


def test_constant_columns() -> None:
    same = drift(pd.DataFrame({"c": [5.0] * 2000}), pd.DataFrame({"c": [5.0] * 1500}))
    assert same["c"].test == "jensenshannon" and same["c"].score == 0.0 and not same["c"].drifted
    small = drift(pd.DataFrame({"c": [5.0] * 200}), pd.DataFrame({"c": [5.0] * 150}))
    assert small["c"].test == "z" and small["c"].p_value == 1.0
    moved = drift(pd.DataFrame({"c": [5.0] * 200}), pd.DataFrame({"c": [6.0] * 150}))
    assert moved["c"].drifted
    forced = drift(
        pd.DataFrame({"c": [5.0] * 2000}), pd.DataFrame({"c": [5.0] * 1500}), tests="wasserstein"
    )
    assert forced["c"].score == 0.0  # normed by max(std, 0.001), no division by zero


def test_infinities_are_left_out_like_nulls() -> None:
    cur = _frame(500, seed=1)
    cur.loc[:9, "a"] = np.inf
    report = drift(_frame(500), cur)
    assert report["a"].current_size == 490


def test_type_change_is_skipped_with_a_reason() -> None:
    cur = _frame(300, seed=1).assign(a=lambda d: d["a"].astype(str))
    report = drift(_frame(300), cur)
    assert report["a"].skipped == "type changed: number in the reference, string now"


def test_empty_current_table_is_a_clear_error() -> None:
    with pytest.raises(DriftInputError, match="current data .* has no rows"):
        drift(_frame(100), _frame(100).iloc[:0])
    with pytest.raises(DriftInputError, match="reference .* has no rows"):
        drift(_frame(100).iloc[:0], _frame(100))


def test_unsupported_inputs_and_missing_files() -> None:
    with pytest.raises(DriftInputError, match="of type list is not supported"):
        drift([1, 2, 3], _frame(10))
    with pytest.raises(DriftInputError, match="file 'missing.parquet' does not exist"):
        drift("missing.parquet", _frame(10))


def test_datetime_columns_are_not_tested() -> None:
    t = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=50), "a": np.arange(50.0)})
    report = drift(t, t)
    assert report["when"].skipped is not None and "not tested" in report["when"].skipped


def test_high_cardinality_category_is_bounded_and_reported() -> None:
    n = 100_000
    ref = pa.table({"id": [f"u{i}" for i in range(n)], "a": np.arange(n, dtype=float)})
    cur = pa.table(
        {"id": [f"u{i}" for i in range(n // 2, n + n // 2)], "a": np.arange(n, dtype=float)}
    )
    report = drift(ref, cur, max_categories=1000)
    column = report["id"]
    assert column.high_cardinality and column.approximate and column.tested
    change = report.category_changes[0]
    assert change.approximate and len(change.new) <= 50
    dist = next(d for d in report.distributions if d.column == "id")
    assert len(dist.labels) <= 21  # bounded in the report too
    assert len(report.to_json()) < 100_000


def test_high_cardinality_memory_stays_bounded() -> None:
    """Counting 2M distinct ids keeps at most ~10x max_categories values at once."""
    code = (
        "import resource, pyarrow as pa\n"
        "from keel.monitoring._columns import count_categories\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "def batches():\n"
        "    for start in range(0, 2_000_000, 100_000):\n"
        "        yield pa.array([f'id-{i}' for i in range(start, start + 100_000)])\n"
        "counts = count_categories(batches(), 1000)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(len(counts.counts), counts.other_count, (after - before) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    kept, other, grown_mb = (int(x) for x in out.stdout.split())
    assert kept == 1000 and kept + other == 2_000_000
    assert grown_mb < 150, out.stdout
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def test_sketch_with_a_new_column_in_current() -> None:
    sketch = ReferenceSketch.from_table(_frame(300))
    report = drift(sketch, _frame(300).assign(extra=1))
    assert report.new_columns == ("extra",)


def test_integer_codes_that_turn_into_many_numbers() -> None:
    """A categorical integer column (<= 10 codes) whose current data holds 30,000 numbers."""
    ref = pd.DataFrame({"code": np.arange(3_000) % 5})
    cur = pd.DataFrame({"code": np.arange(30_000)})
    report = drift(ref, cur)
    code = report["code"]
    assert code.column_type == "categorical" and code.test == "jensenshannon"
    assert code.drifted and code.high_cardinality
    change = report.category_changes[0]
    assert change.new_count == 30_000 - 5 and change.vanished == ()
    assert change.new_share == pytest.approx(29_995 / 30_000)
