"""``keel.monitoring.drift``: compare two tables column by column.

One column is in memory at a time (for each side): it is read, its finite values
sorted once, and every statistic of that column comes from the sorted arrays (KS and
Wasserstein from one merge pass, PSI and Jensen-Shannon from histogram edges looked up
in them). A :class:`~keel.monitoring.ReferenceSketch` can stand in for the reference,
so monitoring never reads the reference again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keel.monitoring._columns import CATEGORICAL, NUMERIC
from keel.monitoring._errors import DriftInputError
from keel.monitoring._methods import PSI_BANDS, DriftTest, default_test, resolve_tests
from keel.monitoring._report import (
    CategoryChange,
    ColumnDistribution,
    ColumnDrift,
    DriftReport,
    NullRateChange,
)
from keel.monitoring._sketch import (
    DEFAULT_MAX_CATEGORIES,
    CategoricalSketch,
    ColumnSketch,
    NumericSketch,
    ReferenceSketch,
    UnsupportedColumn,
    sketch_column,
)
from keel.monitoring._sources import TableSource, open_source
from keel.monitoring._stats import (
    FloatArray,
    chi2_contingency_test,
    chisquare_test,
    compare_sorted,
    histogram,
    jensenshannon_distance,
    ks_pvalue,
    psi,
    sturges_edges,
    z_test,
)

__all__ = ["drift"]

OTHER = "(other)"
# Evidently bins a numeric column for PSI/Jensen-Shannon by value when the reference has
# at most this many distinct values, and with Sturges' histogram above.
_BIN_BY_VALUE_MAX = 20
_LISTED = 50  # new / vanished categories listed per column
_REPORT_CATEGORIES = 20  # bars per categorical column in the report
_REPORT_BINS = 40


def drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    tests: Any = None,
    *,
    drift_share: float = 0.5,
    null_rate_threshold: float = 0.05,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> DriftReport:
    """Compare the distribution of every column of ``current`` with ``reference``.

    Each column gets the test Evidently would choose (see ``docs/guides/monitoring.md``):
    with at most 1,000 reference values, two-sample KS for numeric columns and
    chi-squared (Z-test for two values) for categories; above, the Wasserstein distance
    normed by the reference's standard deviation for numeric columns and the
    Jensen-Shannon distance for categories. Nulls, NaNs and infinities are left out of
    the tests and reported as null-rate changes; new and vanished categories are
    reported separately. The dataset drifts when at least ``drift_share`` of the tested
    columns drifted.

    Args:
        reference: a dataset reference (``iris/3``), ``DatasetVersion``, CSV or Parquet
            path, pandas or polars DataFrame, Arrow table, or a
            :class:`~keel.monitoring.ReferenceSketch` (or a file written by its
            ``to_bytes``).
        current: the same kinds of input (a sketch too, e.g. of merged windows).
        columns: compare only these (default: every column of either table).
        tests: one test for every column (``"psi"``, ``DriftTest("ks", 0.01)``) or a
            mapping of column to test; the key ``"*"`` sets the rest. Names: ``ks``,
            ``wasserstein``, ``jensenshannon``, ``psi``, ``chisquare``, ``z``,
            ``chi2_contingency``.
        drift_share: share of drifted columns from which the dataset drifts.
        null_rate_threshold: report a null-rate change from this absolute change up.
        max_categories: categories kept per column before the rest become "other".

    Returns:
        A :class:`~keel.monitoring.DriftReport`.

    Raises:
        DriftInputError: unreadable inputs, an empty table, unknown columns or tests.
        NotFoundError: a dataset reference that names nothing.

    Example::

        >>> from keel.monitoring import drift
        >>> report = drift("iris/1", "iris_today.csv", tests={"sepal_width": "psi"})
        >>> report.dataset_drift, report.drifted_columns
        (False, ('petal_length',))
    """
    every, per_column = resolve_tests(tests)
    _check_fraction("drift_share", drift_share, allow_zero=False)
    _check_fraction("null_rate_threshold", null_rate_threshold, allow_zero=True)
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, int)
        or max_categories < 1
    ):
        raise DriftInputError(f"max_categories must be an integer >= 1; got {max_categories!r}")
    ref = open_source(reference, "reference")
    cur = open_source(current, "current")
    ref_names, ref_rows, ref_label = _describe(ref, "reference sketch")
    cur_names, cur_rows, cur_label = _describe(cur, "current sketch")
    if ref_rows == 0:
        raise DriftInputError(f"the reference ({ref_label}) has no rows; nothing to compare with")
    if cur_rows == 0:
        raise DriftInputError(
            f"the current data ({cur_label}) has no rows; drift needs at least one row"
        )
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        unknown = [c for c in columns if c not in ref_names and c not in cur_names]
        if unknown:
            raise DriftInputError(
                f"columns {unknown} are in neither table; the reference has {ref_names}"
            )
        chosen = list(dict.fromkeys(columns))
    else:
        chosen = ref_names + [c for c in cur_names if c not in ref_names]
    both = [c for c in chosen if c in ref_names and c in cur_names]
    stray = sorted(set(per_column) - set(both))
    if stray:
        raise DriftInputError(
            f"tests name columns that are not compared: {stray}; compared: {both}"
        )

    results: list[ColumnDrift] = []
    changes: list[CategoryChange] = []
    nulls: list[NullRateChange] = []
    distributions: list[ColumnDistribution] = []
    for name in both:
        ref_col = _column(ref, name, max_categories)
        pins = ref_col.categories if isinstance(ref_col, CategoricalSketch) else ()
        cur_col = _column(cur, name, max_categories, pins)
        outcome = _compare(name, ref_col, cur_col, per_column.get(name, every))
        results.append(outcome.result)
        if outcome.change is not None:
            changes.append(outcome.change)
        if outcome.distribution is not None:
            distributions.append(outcome.distribution)
        null_change = _null_change(name, ref_col, cur_col, null_rate_threshold)
        if null_change is not None:
            nulls.append(null_change)
    return DriftReport(
        reference=ref_label,
        current=cur_label,
        reference_rows=ref_rows,
        current_rows=cur_rows,
        columns=tuple(results),
        drift_share_threshold=float(drift_share),
        category_changes=tuple(changes),
        null_rate_changes=tuple(nulls),
        missing_columns=tuple(c for c in chosen if c in ref_names and c not in cur_names),
        new_columns=tuple(c for c in chosen if c in cur_names and c not in ref_names),
        distributions=tuple(distributions),
    )


def _check_fraction(name: str, value: Any, allow_zero: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 1
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "0 <= x <= 1" if allow_zero else "0 < x <= 1"
        raise DriftInputError(f"{name} must be a number with {bound}; got {value!r}")


def _describe(side: TableSource | ReferenceSketch, sketch_label: str) -> tuple[list[str], int, str]:
    if isinstance(side, ReferenceSketch):
        return list(side.columns), side.num_rows, side.source or sketch_label
    return side.names, side.num_rows, side.label


def _column(
    side: TableSource | ReferenceSketch, name: str, max_categories: int, pins: Sequence[Any] = ()
) -> ColumnSketch:
    if isinstance(side, ReferenceSketch):
        return side.columns[name]
    # raw numeric values (max_points=None): the tests are then exact
    return sketch_column(side, name, max_points=None, max_categories=max_categories, pinned=pins)


@dataclass(frozen=True)
class _Outcome:
    result: ColumnDrift
    change: CategoryChange | None = None
    distribution: ColumnDistribution | None = None


def _rows(col: ColumnSketch) -> int:
    if isinstance(col, NumericSketch):
        return col.count + col.nulls + col.infinite
    return col.count + col.nulls


def _skip(name: str, kind: str, reason: str, ref: ColumnSketch, cur: ColumnSketch) -> _Outcome:
    ref_n = ref.count if not isinstance(ref, UnsupportedColumn) else 0
    cur_n = cur.count if not isinstance(cur, UnsupportedColumn) else 0
    return _Outcome(
        ColumnDrift(name, kind, None, None, None, None, None, False, ref_n, cur_n, skipped=reason)
    )


def _value_type(col: ColumnSketch) -> str:
    if isinstance(col, NumericSketch):
        return "number"
    if isinstance(col, CategoricalSketch):
        return "number" if col.value_type in ("integer", "float") else col.value_type
    return col.arrow_type


def _compare(
    name: str, ref: ColumnSketch, cur: ColumnSketch, override: DriftTest | None
) -> _Outcome:
    kind = ref.effective_kind
    if isinstance(ref, UnsupportedColumn):
        if ref.arrow_type == "null" or ref.count == 0:
            return _skip(name, kind, "all values are null in the reference", ref, cur)
        return _skip(name, kind, f"columns of type {ref.arrow_type} are not tested", ref, cur)
    if isinstance(cur, UnsupportedColumn) and (cur.arrow_type == "null" or cur.count == 0):
        return _skip(name, kind, "all values are null in the current data", ref, cur)
    if _value_type(ref) != _value_type(cur) and not (
        isinstance(cur, CategoricalSketch) and cur.value_type == "mixed"
    ):
        return _skip(
            name,
            kind,
            f"type changed: {_value_type(ref)} in the reference, {_value_type(cur)} now",
            ref,
            cur,
        )
    if ref.count == 0:
        return _skip(name, kind, "no non-null values in the reference", ref, cur)
    if cur.count == 0:
        return _skip(name, kind, "no non-null values in the current data", ref, cur)
    if isinstance(cur, UnsupportedColumn):  # unreachable: its value type never matches
        return _skip(name, kind, f"columns of type {cur.arrow_type} are not tested", ref, cur)
    if isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch) and kind == NUMERIC:
        return _compare_numeric(name, ref, cur, override)
    return _compare_categorical(name, ref, cur, override)


# -- numeric ------------------------------------------------------------------------------


def _union_distinct(ref: NumericSketch, cur: NumericSketch) -> int | None:
    """Distinct values of both sides together when few (at most 21), else ``None``."""
    limit = _BIN_BY_VALUE_MAX + 1
    r, c = ref.distinct, cur.distinct
    if r is None or c is None or r > limit or c > limit:
        return None
    values = set(ref.category_counts()) | set(cur.category_counts())
    return len(values) if len(values) <= limit else None


def _compare_numeric(
    name: str, ref: NumericSketch, cur: NumericSketch, override: DriftTest | None
) -> _Outcome:
    union = _union_distinct(ref, cur)
    test = override or default_test(NUMERIC, ref.count, union)
    approximate = not (ref.exact and cur.exact)
    statistic: float
    p_value: float | None = None
    if test.name in ("ks", "wasserstein"):
        merged = compare_sorted(ref.distribution(), cur.distribution())
        if test.name == "ks":
            statistic = merged.ks
            p_value = ks_pvalue(
                statistic, ref.count, cur.count, ref.distribution(), cur.distribution()
            )
        else:
            statistic = merged.wasserstein / max(ref.std, 0.001)
    elif test.name in ("jensenshannon", "psi"):
        ref_distinct = ref.distinct
        if ref_distinct is not None and ref_distinct <= _BIN_BY_VALUE_MAX:
            r_counts, c_counts, _ = _aligned(ref.category_counts(), cur.category_counts())
        else:
            edges = sturges_edges(
                min(ref.minimum, cur.minimum),
                max(ref.maximum, cur.maximum),
                ref.count + cur.count,
                ref.integer and cur.integer,
            )
            r_counts = histogram(ref.distribution(), edges).astype(np.float64)
            c_counts = histogram(cur.distribution(), edges).astype(np.float64)
        statistic = _distance(test.name, r_counts / ref.count, c_counts / cur.count)
    else:
        if not (ref.exact and cur.exact):
            return _skip(
                name,
                NUMERIC,
                f"test {test.name!r} counts values, but the reference sketch holds too many "
                "distinct values to count them; use ks, wasserstein, jensenshannon or psi",
                ref,
                cur,
            )
        return _categorical_test(
            name, NUMERIC, test, ref.category_counts(), cur.category_counts(), 0, 0, False, ref, cur
        )
    result = _result(name, NUMERIC, test, statistic, p_value, ref.count, cur.count, approximate)
    return _Outcome(result, None, _numeric_distribution(name, ref, cur))


def _numeric_distribution(name: str, ref: NumericSketch, cur: NumericSketch) -> ColumnDistribution:
    lo, hi = min(ref.minimum, cur.minimum), max(ref.maximum, cur.maximum)
    edges = sturges_edges(lo, hi, ref.count + cur.count, False)
    if edges.shape[0] - 1 > _REPORT_BINS:
        edges = np.linspace(edges[0], edges[-1], _REPORT_BINS + 1)
    r = histogram(ref.distribution(), edges) / ref.count
    c = histogram(cur.distribution(), edges) / cur.count
    return ColumnDistribution(
        name, "histogram", tuple(edges.tolist()), (), tuple(r.tolist()), tuple(c.tolist())
    )


# -- categorical --------------------------------------------------------------------------


def _aligned(
    ref: dict[Any, int], cur: dict[Any, int], ref_other: int = 0, cur_other: int = 0
) -> tuple[FloatArray, FloatArray, list[Any]]:
    """Count vectors over the union of values (plus "other" when either side has one)."""
    keys = list(ref) + [k for k in cur if k not in ref]
    r = [float(ref.get(k, 0)) for k in keys]
    c = [float(cur.get(k, 0)) for k in keys]
    if ref_other or cur_other:
        keys.append(OTHER)
        r.append(float(ref_other))
        c.append(float(cur_other))
    return np.asarray(r), np.asarray(c), keys


def _distance(test: str, r: FloatArray, c: FloatArray) -> float:
    return jensenshannon_distance(r, c) if test == "jensenshannon" else psi(r, c)


@dataclass(frozen=True)
class _Categories:
    """One side's category counts: the kept values, and the rest as "other"."""

    counts: dict[Any, int]
    other_count: int = 0
    other_distinct: int = 0


# An integer column that the reference makes categorical (at most 10 values) whose
# current data holds more distinct numbers than this is counted on the reference's
# values only, the rest as "other", instead of one dict entry per number.
_NUMBERS_AS_CATEGORIES = 10_000


def _categories(col: NumericSketch | CategoricalSketch, pins: Sequence[Any]) -> _Categories:
    if isinstance(col, CategoricalSketch):
        return _Categories(col.category_counts(), col.other_count, col.other_distinct)
    distinct = col.distinct
    if distinct is not None and distinct <= _NUMBERS_AS_CATEGORIES:
        return _Categories(col.category_counts())
    values = col.values
    cum = np.concatenate(([0], np.cumsum(col.weights))) if col.weights is not None else None
    counts: dict[Any, int] = {}
    for key in pins:
        lo = int(np.searchsorted(values, key, "left"))
        hi = int(np.searchsorted(values, key, "right"))
        rows = (int(cum[hi] - cum[lo]) if cum is not None else hi - lo) if hi > lo else 0
        if rows:
            counts[key] = rows
    other = col.count - sum(counts.values())
    return _Categories(counts, other, (distinct or values.shape[0]) - len(counts))


def _compare_categorical(
    name: str,
    ref_col: NumericSketch | CategoricalSketch,
    cur_col: NumericSketch | CategoricalSketch,
    override: DriftTest | None,
) -> _Outcome:
    ref = _categories(ref_col, ())
    cur = _categories(cur_col, list(ref.counts))
    ref_truncated = ref.other_distinct > 0
    cur_counts, cur_other = cur.counts, cur.other_count
    if ref_truncated:
        # the reference kept only its most frequent values: everything else is "other"
        cur_other += sum(v for k, v in cur_counts.items() if k not in ref.counts)
        cur_counts = {k: v for k, v in cur_counts.items() if k in ref.counts}
    change = _category_change(name, ref_col.count, cur_col.count, ref, cur, ref_truncated)
    outcome = _categorical_test(
        name,
        CATEGORICAL,
        override,
        ref.counts,
        cur_counts,
        ref.other_count,
        cur_other,
        ref_truncated or cur.other_distinct > 0,
        ref_col,
        cur_col,
    )
    return _Outcome(outcome.result, change, outcome.distribution)


def _categorical_test(
    name: str,
    kind: str,
    override: DriftTest | None,
    ref_counts: dict[Any, int],
    cur_counts: dict[Any, int],
    ref_other: int,
    cur_other: int,
    high_cardinality: bool,
    ref: ColumnSketch,
    cur: ColumnSketch,
) -> _Outcome:
    r, c, keys = _aligned(ref_counts, cur_counts, ref_other, cur_other)
    n_ref, n_cur = int(r.sum()), int(c.sum())
    distinct = None if high_cardinality else len(keys)
    test = override or default_test(kind, n_ref, distinct)
    p_value: float | None = None
    if test.name == "z":
        if len(keys) > 2:
            return _skip(
                name, kind, f"the Z-test compares two values; this column has {len(keys)}", ref, cur
            )
        first = _sorted_first(keys)
        ref_first = int(ref_counts.get(first, 0))
        cur_first = int(cur_counts.get(first, 0))
        if len(keys) == 1:
            statistic, p_value = 0.0, 1.0
        else:
            statistic, p_value = z_test(ref_first, n_ref, cur_first, n_cur)
    elif test.name == "chisquare":
        statistic, p_value = chisquare_test(r, c)
    elif test.name == "chi2_contingency":
        statistic, p_value = chi2_contingency_test(r, c)
    elif test.name in ("jensenshannon", "psi"):
        statistic = _distance(test.name, r / n_ref, c / n_cur)
    else:
        return _skip(
            name, kind, f"test {test.name!r} needs numbers; this column holds categories", ref, cur
        )
    result = _result(
        name, kind, test, statistic, p_value, n_ref, n_cur, high_cardinality, high_cardinality
    )
    return _Outcome(result, None, _categorical_distribution(name, keys, r / n_ref, c / n_cur))


def _sorted_first(keys: list[Any]) -> Any:
    try:
        return sorted(keys)[0]
    except TypeError:
        return sorted(keys, key=repr)[0]


def _categorical_distribution(
    name: str, keys: list[Any], r: FloatArray, c: FloatArray
) -> ColumnDistribution:
    order = sorted(range(len(keys)), key=lambda i: -(r[i] + c[i]))
    top = [i for i in order if keys[i] != OTHER][:_REPORT_CATEGORIES]
    rest = [i for i in range(len(keys)) if i not in set(top)]
    labels = [str(keys[i]) for i in top]
    ref_shares = [float(r[i]) for i in top]
    cur_shares = [float(c[i]) for i in top]
    if rest:
        labels.append(OTHER)
        ref_shares.append(float(r[rest].sum()))
        cur_shares.append(float(c[rest].sum()))
    return ColumnDistribution(
        name, "categories", (), tuple(labels), tuple(ref_shares), tuple(cur_shares)
    )


def _category_change(
    name: str,
    ref_rows: int,
    cur_rows: int,
    ref: _Categories,
    cur: _Categories,
    ref_truncated: bool,
) -> CategoryChange | None:
    new = sorted(
        ((k, v) for k, v in cur.counts.items() if k not in ref.counts), key=lambda kv: -kv[1]
    )
    new_count = len(new)
    new_rows = sum(v for _, v in new)
    if cur.other_distinct and not ref_truncated:
        # values the current side folded into "other" are not in the reference either
        # (the reference's values were pinned while counting): they are new too
        new_count += cur.other_distinct
        new_rows += cur.other_count
    vanished = sorted(
        ((k, v) for k, v in ref.counts.items() if cur.counts.get(k, 0) == 0),
        key=lambda kv: -kv[1],
    )
    if not new_count and not vanished:
        return None
    return CategoryChange(
        column=name,
        new=tuple(k for k, _ in new[:_LISTED]),
        vanished=tuple(k for k, _ in vanished[:_LISTED]),
        new_count=new_count,
        vanished_count=len(vanished),
        new_share=new_rows / cur_rows if cur_rows else 0.0,
        vanished_share=sum(v for _, v in vanished) / ref_rows if ref_rows else 0.0,
        approximate=ref_truncated,
    )


# -- shared -------------------------------------------------------------------------------


def _result(
    name: str,
    kind: str,
    test: DriftTest,
    statistic: float,
    p_value: float | None,
    n_ref: int,
    n_cur: int,
    approximate: bool,
    high_cardinality: bool = False,
) -> ColumnDrift:
    spec = test.spec
    threshold = test.resolved_threshold
    score = p_value if spec.p_value and p_value is not None else statistic
    band = None
    if test.name == "psi":
        band = "none" if score < PSI_BANDS[0] else ("moderate" if score < PSI_BANDS[1] else "major")
    return ColumnDrift(
        column=name,
        column_type=kind,
        test=test.name,
        statistic=float(statistic),
        p_value=None if p_value is None else float(p_value),
        score=float(score),
        threshold=threshold,
        drifted=spec.drifted(float(score), threshold),
        reference_size=n_ref,
        current_size=n_cur,
        approximate=approximate,
        high_cardinality=high_cardinality,
        band=band,
    )


def _null_change(
    name: str, ref: ColumnSketch, cur: ColumnSketch, threshold: float
) -> NullRateChange | None:
    ref_rows, cur_rows = _rows(ref), _rows(cur)
    if not ref_rows or not cur_rows:
        return None
    change = NullRateChange(name, ref.nulls, ref_rows, cur.nulls, cur_rows)
    moved = abs(change.current_rate - change.reference_rate)
    if (moved >= threshold and moved > 0) or (ref.nulls == 0 and cur.nulls > 0):
        return change
    return None
