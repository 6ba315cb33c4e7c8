"""Reading one column: its kind, its finite values sorted, or its category counts.

Kinds follow Evidently's rules (``evidently.core.datasets.infer_column_type``), applied
to the reference: floating-point and decimal columns are numeric; integer columns are
numeric unless they hold at most 10 distinct values, which makes them categorical;
booleans and strings are categorical. Dates, times, binary and nested columns are not
tested (Evidently skips them too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.monitoring._stats import FloatArray

__all__ = [
    "CATEGORICAL",
    "EMPTY",
    "INTEGER_CATEGORY_LIMIT",
    "NUMERIC",
    "UNSUPPORTED",
    "CategoryCounts",
    "NumericValues",
    "arrow_kind",
    "count_categories",
    "counts_from_values",
    "numeric_values",
    "unique_sorted",
]

NUMERIC = "numeric"
CATEGORICAL = "categorical"
EMPTY = "empty"  # Arrow's null type: a column with no values at all
UNSUPPORTED = "unsupported"
# Evidently: an integer column with at most this many distinct values is categorical.
INTEGER_CATEGORY_LIMIT = 10


def arrow_kind(data_type: pa.DataType) -> tuple[str, str]:
    """(kind, value type) of an Arrow type: ``("numeric", "float")``, ``("categorical", "string")``, ..."""
    import pyarrow as pa

    t = data_type.value_type if pa.types.is_dictionary(data_type) else data_type
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return NUMERIC, "float"
    if pa.types.is_integer(t):
        return NUMERIC, "integer"
    if pa.types.is_boolean(t):
        return CATEGORICAL, "boolean"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return CATEGORICAL, "string"
    if pa.types.is_null(t):
        return EMPTY, "null"
    return UNSUPPORTED, str(t)


@dataclass(frozen=True, eq=False)
class NumericValues:
    """A numeric column read for drift: its finite values sorted, and what was left out.

    Attributes:
        values: the finite values, sorted ascending (float64).
        nulls: nulls and NaNs.
        infinite: +inf and -inf (left out of the tests, as Evidently does).
    """

    values: FloatArray
    nulls: int
    infinite: int


def _decoded(column: pa.ChunkedArray | pa.Array) -> Any:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        if isinstance(column, pa.ChunkedArray):
            return pa.chunked_array(
                [c.dictionary_decode() for c in column.chunks], type=column.type.value_type
            )
        return column.dictionary_decode()
    return column


def numeric_values(column: pa.ChunkedArray) -> NumericValues:
    """The finite values of a numeric column, sorted once; nulls, NaNs and infinities counted."""
    import pyarrow as pa

    column = _decoded(column)
    if column.type != pa.float64():
        column = column.cast(pa.float64(), safe=False)
    values = np.asarray(column.to_numpy(), dtype=np.float64)
    if not values.flags.writeable:
        values = values.copy()
    finite = np.isfinite(values)
    n_finite = int(np.count_nonzero(finite))
    nulls = infinite = 0
    if n_finite < values.shape[0]:
        nulls = int(np.count_nonzero(np.isnan(values)))
        infinite = values.shape[0] - n_finite - nulls
        values = values[finite]
    values.sort()
    return NumericValues(values, nulls, infinite)


@dataclass(frozen=True)
class CategoryCounts:
    """Counts of a categorical column's values, bounded.

    Attributes:
        counts: value -> rows, for at most ``max_categories`` values (plus the pinned
            ones), the most frequent first.
        nulls: null rows.
        other_count: rows whose value was folded into "other" (beyond the bound).
        other_distinct: distinct values folded into "other" (a lower bound when
            values were pruned while counting).
    """

    counts: dict[Any, int]
    nulls: int
    other_count: int
    other_distinct: int


def _rank_key(item: tuple[Any, int]) -> tuple[int, str, Any]:
    # most frequent first; ties by value, so the result never depends on input order
    value, count = item
    return (-count, type(value).__name__, value)


def _top(
    counts: dict[Any, int], keep: int, pinned: frozenset[Any]
) -> tuple[dict[Any, int], int, int]:
    """The ``keep`` most frequent (plus pinned) values, and the count and number of the rest."""
    if len(counts) <= keep:
        return counts, 0, 0
    kept: dict[Any, int] = {k: counts[k] for k in pinned if k in counts}
    rest = sorted(((k, c) for k, c in counts.items() if k not in kept), key=_rank_key)
    for value, count in rest[:keep]:
        kept[value] = count
    dropped = rest[keep:]
    return kept, sum(c for _, c in dropped), len(dropped)


def count_categories(
    batches: Iterable[pa.Array],
    max_categories: int,
    pinned: Iterable[Any] = (),
) -> CategoryCounts:
    """Count a categorical column batch by batch, in memory bounded by ``max_categories``.

    Each batch is counted by Arrow (``value_counts``). While counting, the table of
    counts is pruned back whenever it grows past ``10 * max_categories`` (at least
    100,000) values, so a column of ten million distinct ids never holds them all;
    values in ``pinned`` (a reference's categories) are never pruned, so their counts
    stay exact.
    """
    import pyarrow.compute as pc

    pins = frozenset(pinned)
    limit = max(10 * max_categories, 100_000)
    counts: dict[Any, int] = {}
    nulls = other_count = other_distinct = 0
    for batch in batches:
        batch = _decoded(batch)
        nulls += batch.null_count
        if batch.null_count:
            batch = batch.drop_null()
        if len(batch) == 0:
            continue
        vc = pc.value_counts(batch)
        for value, count in zip(
            vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
        ):
            counts[value] = counts.get(value, 0) + count
        if len(counts) > limit:
            counts, dropped, n_dropped = _top(counts, limit // 2, pins)
            other_count += dropped
            other_distinct += n_dropped
    counts, dropped, n_dropped = _top(counts, max_categories, pins)
    ordered = dict(sorted(counts.items(), key=_rank_key))
    return CategoryCounts(ordered, nulls, other_count + dropped, other_distinct + n_dropped)


def counts_from_values(values: FloatArray, nulls: int, integer: bool) -> CategoryCounts:
    """Category counts of a numeric column's (sorted, finite) values."""
    uniq, counts = unique_sorted(values)
    keys: Iterator[Any] = (int(v) for v in uniq) if integer else (float(v) for v in uniq)
    pairs = dict(zip(keys, (int(c) for c in counts), strict=True))
    return CategoryCounts(dict(sorted(pairs.items(), key=_rank_key)), nulls, 0, 0)


def unique_sorted(values: FloatArray) -> tuple[FloatArray, Any]:
    """Distinct values of a sorted array and how often each occurs."""
    if values.shape[0] == 0:
        return values, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    counts = np.diff(np.concatenate((starts, [values.shape[0]]))).astype(np.int64)
    return values[starts], counts
