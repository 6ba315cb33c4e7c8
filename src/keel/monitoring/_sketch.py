"""Reference sketches: a table's distributions summarised once, stored, merged.

A :class:`ReferenceSketch` keeps, per column, what every drift test needs, so
monitoring compares a fresh window against it without reading the reference again:

- numeric columns (:class:`NumericSketch`): row, null and infinity counts, min, max,
  mean and sum of squared deviations (merged with Chan's formula), and the sorted
  distinct values with their counts. Past ``max_points`` distinct values these are
  compacted to ``max_points`` quantiles, each weighted by the rows it stands for: a
  deterministic, weighted sorted sample from which KS, Wasserstein and any histogram
  are computed (``approximate`` in the report). With at most ``max_points`` distinct
  values (every reference of at most 4,096 rows) the sketch is exact.
- categorical columns (:class:`CategoricalSketch`): counts of the ``max_categories``
  most frequent values and one "other" bucket for the rest (count and number of
  distinct values), so a column of 100,000 ids stays a few kilobytes.

Sketches are deterministic (same data, same bytes), serialisable
(:meth:`ReferenceSketch.to_bytes`, :meth:`ReferenceSketch.to_dict` for JSON, both
versioned) and mergeable (:meth:`ReferenceSketch.merge`: a day's windows combine into
a week without re-reading the log).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from keel.monitoring._columns import (
    CATEGORICAL,
    EMPTY,
    INTEGER_CATEGORY_LIMIT,
    NUMERIC,
    UNSUPPORTED,
    CategoryCounts,
    NumericValues,
    arrow_kind,
    count_categories,
    numeric_values,
    unique_sorted,
)
from keel.monitoring._errors import DriftInputError, SketchFormatError
from keel.monitoring._stats import Distribution

if TYPE_CHECKING:
    from keel.monitoring._sources import TableSource
    from keel.monitoring._stats import FloatArray, IntArray

__all__ = [
    "DEFAULT_MAX_CATEGORIES",
    "DEFAULT_MAX_POINTS",
    "FORMAT_VERSION",
    "MAGIC",
    "CategoricalSketch",
    "ColumnSketch",
    "NumericSketch",
    "ReferenceSketch",
    "UnsupportedColumn",
    "sketch_column",
]

MAGIC = b"KEELSKETCH\x00"
FORMAT_VERSION = 1
DEFAULT_MAX_POINTS = 4096
DEFAULT_MAX_CATEGORIES = 1000
_MIN_POINTS = 64  # the drift rules look at up to 21 distinct values


def _compact(values: FloatArray, weights: IntArray, points: int) -> tuple[FloatArray, IntArray]:
    """``points`` weighted quantiles of a weighted sorted sample (deterministic, integer math).

    Bucket k holds the rows of ranks ``[k*N/points, (k+1)*N/points)`` and is represented
    by the value at its middle rank; buckets that land on the same value are combined.
    """
    total = int(weights.sum())
    k = np.arange(points, dtype=np.int64)
    # (2k+1)*N fits in int64 for N < 2**50 rows with points <= 2**12; Python ints otherwise
    if total < (1 << 50):
        middle = ((2 * k + 1) * total) // (2 * points)
        bounds = (np.arange(points + 1, dtype=np.int64) * total) // points
    else:
        middle = np.array([((2 * i + 1) * total) // (2 * points) for i in range(points)])
        bounds = np.array([(i * total) // points for i in range(points + 1)])
    cum = np.cumsum(weights, dtype=np.int64)
    reps = values[np.searchsorted(cum, middle, "right")]
    bucket_weights = np.diff(bounds).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], reps[1:] != reps[:-1])))
    merged_weights = np.add.reduceat(bucket_weights, starts).astype(np.int64)
    return reps[starts], merged_weights


def _combine(
    values: Sequence[FloatArray], weights: Sequence[IntArray]
) -> tuple[FloatArray, IntArray]:
    """Weighted sorted samples merged into one, equal values combined."""
    v = np.concatenate(values)
    w = np.concatenate(weights)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    return v[starts], np.add.reduceat(w, starts).astype(np.int64)


@dataclass(frozen=True, eq=False)
class NumericSketch:
    """A numeric column: counts, moments and a weighted sorted sample.

    Attributes:
        count: finite values (the rows the tests use).
        nulls: nulls and NaNs.
        infinite: infinite values (left out of the tests, as Evidently does).
        integer: the column holds integers (Evidently's rule makes one with at most 10
            distinct values categorical).
        minimum: smallest finite value (NaN when ``count`` is 0).
        maximum: largest finite value.
        mean: mean of the finite values.
        m2: sum of squared deviations from the mean (``std = sqrt(m2 / count)``).
        values: sorted values: the distinct values, or ``max_points`` quantiles.
        weights: rows per value; ``None`` for a raw column (one row per value, as read
            for an exact comparison, never stored).
        exact: ``values``/``weights`` describe the column exactly (not compacted).
    """

    count: int
    nulls: int
    infinite: int
    integer: bool
    minimum: float
    maximum: float
    mean: float
    m2: float
    values: FloatArray = field(repr=False)
    weights: IntArray | None = field(repr=False)
    exact: bool
    kind: ClassVar[str] = NUMERIC

    @property
    def std(self) -> float:
        """Population standard deviation (``np.std``), 0 for fewer than two values."""
        if not self.count:
            return math.nan
        if self.weights is None:  # a raw column: numpy's own, on demand
            return float(np.std(self.values))
        return math.sqrt(self.m2 / self.count)

    def moments(self) -> tuple[float, float]:
        """(mean, m2); a raw column computes them on demand (only the reference's are used)."""
        if self.weights is None and self.count and math.isnan(self.m2):
            mean = float(self.values.mean())
            deviations = self.values - mean
            deviations *= deviations  # not np.dot: BLAS threads stall on a busy machine
            return mean, float(deviations.sum())
        return self.mean, self.m2

    @functools.cached_property
    def distinct(self) -> int | None:
        """Number of distinct finite values, or ``None`` when compacted (more than the sketch holds)."""
        if not self.exact:
            return None
        if self.weights is not None:
            return int(self.values.shape[0])
        v = self.values
        return int(np.count_nonzero(v[1:] != v[:-1])) + 1 if v.shape[0] else 0

    @property
    def effective_kind(self) -> str:
        """``categorical`` for an integer column with at most 10 distinct values, else ``numeric``."""
        distinct = self.distinct
        if self.integer and distinct is not None and distinct <= INTEGER_CATEGORY_LIMIT:
            return CATEGORICAL
        return NUMERIC

    def distribution(self) -> Distribution:
        return Distribution(self.values, self.weights)

    def category_counts(self) -> dict[Any, int]:
        """Counts per distinct value (an exact sketch only)."""
        if self.weights is None:
            uniq, counts = unique_sorted(self.values)
        else:
            uniq, counts = self.values, self.weights
        cast = int if self.integer else float
        return {cast(v): int(c) for v, c in zip(uniq.tolist(), counts.tolist(), strict=True)}

    @classmethod
    def from_values(
        cls, data: NumericValues, integer: bool, max_points: int | None
    ) -> NumericSketch:
        """The sketch of a column's sorted finite values; ``max_points=None`` keeps them raw."""
        v = data.values
        n = int(v.shape[0])
        lo = float(v[0]) if n else math.nan
        hi = float(v[-1]) if n else math.nan
        if max_points is None:  # moments on demand: a current column never needs them
            return cls(
                n, data.nulls, data.infinite, integer, lo, hi, math.nan, math.nan, v, None, True
            )
        mean = float(v.mean()) if n else math.nan
        if n:
            deviations = v - mean
            deviations *= deviations
            m2 = float(deviations.sum())
            del deviations
        else:
            m2 = 0.0
        uniq, counts = unique_sorted(v)
        exact = uniq.shape[0] <= max_points
        if not exact:
            uniq, counts = _compact(uniq, counts, max_points)
        return cls(n, data.nulls, data.infinite, integer, lo, hi, mean, m2, uniq, counts, exact)

    def _weighted(self) -> tuple[FloatArray, IntArray]:
        if self.weights is None:
            return unique_sorted(self.values)
        return self.values, self.weights

    def merge(self, other: NumericSketch, max_points: int) -> NumericSketch:
        """The sketch of both columns' rows together."""
        n = self.count + other.count
        (mean_a, m2_a), (mean_b, m2_b) = self.moments(), other.moments()
        if self.count == 0 or other.count == 0:
            mean, m2 = (mean_b, m2_b) if self.count == 0 else (mean_a, m2_a)
        else:
            delta = mean_b - mean_a
            mean = mean_a + delta * other.count / n
            m2 = m2_a + m2_b + delta * delta * self.count * other.count / n
        v1, w1 = self._weighted()
        v2, w2 = other._weighted()
        values, weights = _combine([v1, v2], [w1, w2])
        exact = self.exact and other.exact and values.shape[0] <= max_points
        if values.shape[0] > max_points:
            values, weights = _compact(values, weights, max_points)
        return NumericSketch(
            count=n,
            nulls=self.nulls + other.nulls,
            infinite=self.infinite + other.infinite,
            integer=self.integer and other.integer,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
            mean=mean,
            m2=m2,
            values=values,
            weights=weights,
            exact=exact,
        )

    def to_dict(self, binary: bool = False) -> dict[str, Any]:
        values, weights = self._weighted()
        mean, m2 = self.moments()
        return {
            "kind": NUMERIC,
            "count": self.count,
            "nulls": self.nulls,
            "infinite": self.infinite,
            "integer": self.integer,
            "min": _json_float(self.minimum),
            "max": _json_float(self.maximum),
            "mean": _json_float(mean),
            "m2": _json_float(m2),
            "exact": self.exact,
            "values": _encode(values, binary),
            "weights": _encode(weights, binary),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericSketch:
        return cls(
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            infinite=int(data["infinite"]),
            integer=bool(data["integer"]),
            minimum=_float(data["min"]),
            maximum=_float(data["max"]),
            mean=_float(data["mean"]),
            m2=_float(data["m2"]),
            values=np.asarray(_decode(data["values"], np.float64), dtype=np.float64),
            weights=np.asarray(_decode(data["weights"], np.int64), dtype=np.int64),
            exact=bool(data["exact"]),
        )


@dataclass(frozen=True)
class CategoricalSketch:
    """A categorical column: counts of its most frequent values and an "other" bucket.

    Attributes:
        count: non-null rows.
        nulls: null rows.
        value_type: ``string``, ``boolean``, ``integer`` or ``float``.
        categories: the kept values, most frequent first (ties by value).
        counts: rows per kept value.
        other_count: rows of all other values (0 unless the column had more distinct
            values than the sketch keeps).
        other_distinct: how many distinct values are in "other" (a lower bound when
            they were pruned while counting).
    """

    count: int
    nulls: int
    value_type: str
    categories: tuple[Any, ...]
    counts: tuple[int, ...]
    other_count: int
    other_distinct: int
    kind: ClassVar[str] = CATEGORICAL

    @property
    def truncated(self) -> bool:
        """Some values were folded into "other" (a high-cardinality column)."""
        return self.other_distinct > 0

    @property
    def distinct(self) -> int:
        """Distinct non-null values (a lower bound when truncated)."""
        return len(self.categories) + self.other_distinct

    @property
    def effective_kind(self) -> str:
        return CATEGORICAL

    def category_counts(self) -> dict[Any, int]:
        return dict(zip(self.categories, self.counts, strict=True))

    @classmethod
    def from_counts(cls, counts: CategoryCounts, value_type: str) -> CategoricalSketch:
        return cls(
            count=sum(counts.counts.values()) + counts.other_count,
            nulls=counts.nulls,
            value_type=value_type,
            categories=tuple(counts.counts),
            counts=tuple(counts.counts.values()),
            other_count=counts.other_count,
            other_distinct=counts.other_distinct,
        )

    def merge(self, other: CategoricalSketch, max_categories: int) -> CategoricalSketch:
        merged = dict(self.category_counts())
        for value, count in other.category_counts().items():
            merged[value] = merged.get(value, 0) + count
        from keel.monitoring._columns import _top

        kept, dropped, n_dropped = _top(merged, max_categories, frozenset())
        from keel.monitoring._columns import _rank_key

        ordered = dict(sorted(kept.items(), key=_rank_key))
        value_type = self.value_type if self.value_type == other.value_type else "mixed"
        return CategoricalSketch(
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            value_type=value_type,
            categories=tuple(ordered),
            counts=tuple(ordered.values()),
            other_count=self.other_count + other.other_count + dropped,
            other_distinct=max(self.other_distinct, other.other_distinct) + n_dropped,
        )

    def to_dict(self, binary: bool = False) -> dict[str, Any]:
        return {
            "kind": CATEGORICAL,
            "count": self.count,
            "nulls": self.nulls,
            "value_type": self.value_type,
            "categories": list(self.categories),
            "counts": list(self.counts),
            "other_count": self.other_count,
            "other_distinct": self.other_distinct,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalSketch:
        return cls(
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            value_type=str(data["value_type"]),
            categories=tuple(data["categories"]),
            counts=tuple(int(c) for c in data["counts"]),
            other_count=int(data["other_count"]),
            other_distinct=int(data["other_distinct"]),
        )


@dataclass(frozen=True)
class UnsupportedColumn:
    """A column drift does not test (dates, binary, nested, or all-null of Arrow's null type).

    Attributes:
        arrow_type: its Arrow type.
        nulls: null rows.
        count: non-null rows.
    """

    arrow_type: str
    nulls: int
    count: int
    kind: ClassVar[str] = UNSUPPORTED

    @property
    def effective_kind(self) -> str:
        return UNSUPPORTED

    def merge(self, other: UnsupportedColumn) -> UnsupportedColumn:
        return UnsupportedColumn(
            self.arrow_type, self.nulls + other.nulls, self.count + other.count
        )

    def to_dict(self, binary: bool = False) -> dict[str, Any]:
        return {
            "kind": UNSUPPORTED,
            "arrow_type": self.arrow_type,
            "nulls": self.nulls,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnsupportedColumn:
        return cls(str(data["arrow_type"]), int(data["nulls"]), int(data["count"]))


ColumnSketch = NumericSketch | CategoricalSketch | UnsupportedColumn


def sketch_column(
    source: TableSource,
    name: str,
    *,
    max_points: int | None,
    max_categories: int,
    pinned: Iterable[Any] = (),
) -> ColumnSketch:
    """Sketch one column of a table (``max_points=None``: numeric values kept raw, for exact tests)."""
    data_type = source.schema.field(name).type
    kind, value_type = arrow_kind(data_type)
    if kind == NUMERIC:
        values = numeric_values(source.column(name))
        return NumericSketch.from_values(values, value_type == "integer", max_points)
    if kind == CATEGORICAL:
        counts = count_categories(source.batches(name), max_categories, pinned)
        return CategoricalSketch.from_counts(counts, value_type)
    if kind == EMPTY:
        return UnsupportedColumn("null", source.num_rows, 0)
    column = source.column(name)
    return UnsupportedColumn(str(data_type), column.null_count, len(column) - column.null_count)


@dataclass(frozen=True, eq=False)
class ReferenceSketch:
    """Everything drift needs from a reference table, computed once.

    Build one with :meth:`from_table`, store :meth:`to_bytes`, give it to
    :func:`keel.monitoring.drift` as the reference, combine windows with :meth:`merge`.

    Attributes:
        num_rows: rows of the table(s) sketched.
        columns: per column (in table order) its sketch.
        max_points: numeric sample bound it was built with.
        max_categories: category bound it was built with.
        source: what was sketched (``iris/3``, a file name), for reports.

    Example::

        >>> sketch = ReferenceSketch.from_table("iris/1")
        >>> Path("iris.keelsketch").write_bytes(sketch.to_bytes())
        >>> keel.monitoring.drift(sketch, "new.parquet").dataset_drift
        False
    """

    num_rows: int
    columns: Mapping[str, ColumnSketch]
    max_points: int = DEFAULT_MAX_POINTS
    max_categories: int = DEFAULT_MAX_CATEGORIES
    source: str | None = None

    @classmethod
    def from_table(
        cls,
        data: Any,
        *,
        columns: Sequence[str] | None = None,
        max_points: int = DEFAULT_MAX_POINTS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
    ) -> ReferenceSketch:
        """Sketch a table: a dataset reference, file, DataFrame or Arrow table.

        Columns are read one at a time (Parquet: only that column), so memory follows
        the largest column.

        Args:
            data: what to sketch (anything :func:`keel.monitoring.drift` accepts as a table).
            columns: only these columns (default: all).
            max_points: most values kept per numeric column (at least 64).
            max_categories: most values kept per categorical column (at least 1).

        Raises:
            DriftInputError: unreadable input, unknown columns or bad bounds.
        """
        from keel.monitoring._sources import open_source

        _check_bounds(max_points, max_categories)
        source = open_source(data, "table")
        if isinstance(source, ReferenceSketch):
            return source
        names = source.names if columns is None else list(columns)
        missing = [c for c in names if c not in source.names]
        if missing:
            raise DriftInputError(
                f"columns {missing} are not in {source.label}; it has {source.names}"
            )
        sketches = {
            name: sketch_column(source, name, max_points=max_points, max_categories=max_categories)
            for name in names
        }
        return cls(source.num_rows, sketches, max_points, max_categories, source.label)

    def merge(self, other: ReferenceSketch) -> ReferenceSketch:
        """One sketch of both tables' rows (e.g. two windows of the same log).

        The result is exact where both are exact and the union stays within the bounds;
        otherwise it is compacted again (numeric) or re-ranked (categories).

        Raises:
            DriftInputError: the sketches have different columns or column kinds.
        """
        if list(self.columns) != list(other.columns):
            raise DriftInputError(
                f"cannot merge sketches with different columns: {list(self.columns)} "
                f"and {list(other.columns)}"
            )
        points = min(self.max_points, other.max_points)
        categories = min(self.max_categories, other.max_categories)
        merged: dict[str, ColumnSketch] = {}
        for name, a in self.columns.items():
            b = other.columns[name]
            if isinstance(a, NumericSketch) and isinstance(b, NumericSketch):
                merged[name] = a.merge(b, points)
            elif isinstance(a, CategoricalSketch) and isinstance(b, CategoricalSketch):
                merged[name] = a.merge(b, categories)
            elif isinstance(a, UnsupportedColumn) and isinstance(b, UnsupportedColumn):
                merged[name] = a.merge(b)
            else:
                raise DriftInputError(
                    f"cannot merge column {name!r}: {a.kind} in one sketch, {b.kind} in the other"
                )
        source = self.source if self.source == other.source else None
        return ReferenceSketch(self.num_rows + other.num_rows, merged, points, categories, source)

    # -- serialisation ------------------------------------------------------------------

    def to_dict(self, binary: bool = False) -> dict[str, Any]:
        """Plain JSON data (``binary=True``: numeric arrays as base64, for :meth:`to_bytes`)."""
        from keel._version import __version__

        return {
            "format": "keel.reference_sketch",
            "format_version": FORMAT_VERSION,
            "keel_version": __version__,
            "num_rows": self.num_rows,
            "max_points": self.max_points,
            "max_categories": self.max_categories,
            "source": self.source,
            # a list, not an object: key-sorted JSON must keep the table's column order
            "columns": [{"name": name, **c.to_dict(binary)} for name, c in self.columns.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceSketch:
        """The sketch :meth:`to_dict` described.

        Raises:
            SketchFormatError: not a sketch, or one written by a newer keel.
        """
        if data.get("format") != "keel.reference_sketch":
            raise SketchFormatError("this is not a keel reference sketch (no 'format' field)")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise SketchFormatError(
                f"reference sketch format {version!r} is newer than this keel reads "
                f"({FORMAT_VERSION}); upgrade keel (it was written by keel {data.get('keel_version')})"
            )
        readers: dict[str, Callable[[Mapping[str, Any]], ColumnSketch]] = {
            NUMERIC: NumericSketch.from_dict,
            CATEGORICAL: CategoricalSketch.from_dict,
            UNSUPPORTED: UnsupportedColumn.from_dict,
        }
        columns: dict[str, ColumnSketch] = {}
        for column in data["columns"]:
            name = str(column["name"])
            reader = readers.get(column.get("kind"))
            if reader is None:
                raise SketchFormatError(f"column {name!r} has unknown kind {column.get('kind')!r}")
            columns[name] = reader(column)
        return cls(
            int(data["num_rows"]),
            columns,
            int(data["max_points"]),
            int(data["max_categories"]),
            data.get("source"),
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text (keys sorted: the same sketch gives the same text)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_bytes(self) -> bytes:
        """Compact bytes (a magic header, then zlib-compressed JSON with base64 arrays).

        Deterministic: the same sketch always gives the same bytes.
        """
        text = json.dumps(self.to_dict(binary=True), sort_keys=True, separators=(",", ":"))
        return MAGIC + zlib.compress(text.encode(), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceSketch:
        """The sketch :meth:`to_bytes` wrote.

        Raises:
            SketchFormatError: the bytes are not a sketch (or are damaged).
        """
        if not data.startswith(MAGIC):
            raise SketchFormatError("these bytes are not a keel reference sketch (bad header)")
        try:
            payload = json.loads(zlib.decompress(data[len(MAGIC) :]))
        except (zlib.error, ValueError) as exc:
            raise SketchFormatError(f"the reference sketch is damaged: {exc}") from None
        return cls.from_dict(payload)


def _check_bounds(max_points: int, max_categories: int) -> None:
    if not isinstance(max_points, int) or max_points < _MIN_POINTS:
        raise DriftInputError(f"max_points must be an integer >= {_MIN_POINTS}; got {max_points!r}")
    if not isinstance(max_categories, int) or max_categories < 1:
        raise DriftInputError(f"max_categories must be an integer >= 1; got {max_categories!r}")


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _encode(array: Any, binary: bool) -> Any:
    if binary:
        return {
            "dtype": str(array.dtype),
            "b64": base64.b64encode(array.astype(array.dtype.newbyteorder("<")).tobytes()).decode(),
        }
    return array.tolist()


def _decode(data: Any, dtype: Any) -> Any:
    if isinstance(data, dict):
        raw = base64.b64decode(data["b64"])
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    return np.asarray(data, dtype=dtype)
