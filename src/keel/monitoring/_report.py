"""The result of :func:`keel.monitoring.drift`: typed, frozen, and the same as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = [
    "CategoryChange",
    "ColumnDistribution",
    "ColumnDrift",
    "DriftReport",
    "NullRateChange",
]

REPORT_FORMAT = "keel.drift_report"
REPORT_VERSION = 1


@dataclass(frozen=True)
class ColumnDrift:
    """The drift test of one column.

    Attributes:
        column: the column's name.
        column_type: ``numeric``, ``categorical`` or ``unsupported``.
        test: the test used (``ks``, ``wasserstein``, ``jensenshannon``, ``psi``,
            ``chisquare``, ``z``, ``chi2_contingency``); ``None`` when skipped.
        statistic: the test's statistic (KS D, normed Wasserstein distance, chi-squared,
            z, Jensen-Shannon distance, PSI).
        p_value: the p-value, for hypothesis tests (``ks``, ``chisquare``, ``z``,
            ``chi2_contingency``); ``None`` for distances.
        score: what is compared with the threshold: the p-value, or the distance.
        threshold: drift when ``score`` is below it (p-values) or at/above it (distances).
        drifted: whether the column drifted.
        reference_size: reference values tested (non-null and finite).
        current_size: current values tested.
        approximate: computed from a compacted reference sketch or from bounded
            category counts, not from every value.
        high_cardinality: a categorical column with more distinct values than kept
            (``max_categories``): tested on the kept values plus one "other" bucket.
        band: PSI only: ``none`` (< 0.1), ``moderate`` (< 0.25) or ``major``.
        skipped: why the column was not tested (``None`` when it was).
    """

    column: str
    column_type: str
    test: str | None
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float | None
    drifted: bool
    reference_size: int
    current_size: int
    approximate: bool = False
    high_cardinality: bool = False
    band: str | None = None
    skipped: str | None = None

    @property
    def tested(self) -> bool:
        return self.skipped is None


@dataclass(frozen=True)
class CategoryChange:
    """Categories that appeared or vanished in a categorical column.

    Attributes:
        column: the column.
        new: values in the current data that the reference does not have (at most 50
            listed, most frequent first).
        vanished: reference values absent from the current data (at most 50 listed).
        new_count: how many new values (all of them, not only those listed).
        vanished_count: how many vanished values.
        new_share: share of current rows holding a new value.
        vanished_share: share of reference rows holding a vanished value.
        approximate: the reference kept only its most frequent values, so a "new" value
            may be one of its rare ones.
    """

    column: str
    new: tuple[Any, ...]
    vanished: tuple[Any, ...]
    new_count: int
    vanished_count: int
    new_share: float
    vanished_share: float
    approximate: bool = False


@dataclass(frozen=True)
class NullRateChange:
    """A change in a column's share of nulls (NaN counts as null).

    Reported when the share moved by at least ``null_rate_threshold`` (absolute), or when
    the reference had no nulls and the current data has some.
    """

    column: str
    reference_nulls: int
    reference_rows: int
    current_nulls: int
    current_rows: int

    @property
    def reference_rate(self) -> float:
        return self.reference_nulls / self.reference_rows if self.reference_rows else 0.0

    @property
    def current_rate(self) -> float:
        return self.current_nulls / self.current_rows if self.current_rows else 0.0


@dataclass(frozen=True)
class ColumnDistribution:
    """Reference and current distributions of a column on shared bins, for reports.

    Attributes:
        column: the column.
        kind: ``histogram`` (numeric: ``edges`` has one more entry than the shares) or
            ``categories`` (``labels`` names each bar; "(other)" gathers the rest).
        edges: bin edges (histograms).
        labels: category labels (categories).
        reference: share of reference values per bin or category.
        current: share of current values per bin or category.
    """

    column: str
    kind: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]


@dataclass(frozen=True)
class DriftReport:
    """Drift between a reference and a current table.

    Attributes:
        reference: what the reference was (``iris/3``, a file, ``DataFrame``, a sketch's source).
        current: what the current table was.
        reference_rows: rows of the reference.
        current_rows: rows of the current table.
        columns: one :class:`ColumnDrift` per compared column, in the reference's order.
        drift_share_threshold: dataset drift when at least this share of tested columns drifted.
        category_changes: new and vanished categories, per categorical column.
        null_rate_changes: columns whose share of nulls changed.
        missing_columns: reference columns absent from the current table.
        new_columns: current columns absent from the reference.
        distributions: per tested column, both distributions on shared bins.

    Example::

        >>> report = keel.monitoring.drift("train.parquet", "today.parquet")
        >>> report.dataset_drift, report.drift_share
        (True, 0.6)
        >>> report["income"].test, report["income"].score, report["income"].drifted
        ('wasserstein', 0.31, True)
    """

    reference: str
    current: str
    reference_rows: int
    current_rows: int
    columns: tuple[ColumnDrift, ...]
    drift_share_threshold: float = 0.5
    category_changes: tuple[CategoryChange, ...] = ()
    null_rate_changes: tuple[NullRateChange, ...] = ()
    missing_columns: tuple[str, ...] = ()
    new_columns: tuple[str, ...] = ()
    distributions: tuple[ColumnDistribution, ...] = ()

    @property
    def tested_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.tested)

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)

    @property
    def drift_share(self) -> float:
        """Drifted columns / tested columns (0 when none was tested)."""
        tested = len(self.tested_columns)
        return len(self.drifted_columns) / tested if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        """Whether the share of drifted columns reached ``drift_share_threshold``."""
        return bool(self.tested_columns) and self.drift_share >= self.drift_share_threshold

    def __getitem__(self, column: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == column:
                return result
        raise KeyError(f"{column!r} was not compared; columns: {[c.column for c in self.columns]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (non-finite numbers as the strings ``"inf"``, ``"-inf"``, ``"nan"``)."""
        data: dict[str, Any] = {
            "format": REPORT_FORMAT,
            "format_version": REPORT_VERSION,
            "reference": self.reference,
            "current": self.current,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "drift_share_threshold": self.drift_share_threshold,
            "tested_columns": len(self.tested_columns),
            "drifted_columns": len(self.drifted_columns),
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "columns": [asdict(c) for c in self.columns],
            "category_changes": [asdict(c) for c in self.category_changes],
            "null_rate_changes": [
                {**asdict(c), "reference_rate": c.reference_rate, "current_rate": c.current_rate}
                for c in self.null_rate_changes
            ],
            "missing_columns": list(self.missing_columns),
            "new_columns": list(self.new_columns),
            "distributions": [asdict(d) for d in self.distributions],
        }
        cleaned: dict[str, Any] = _json_safe(data)
        return cleaned

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as strict JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """The report :meth:`to_dict` described."""
        columns = _json_restore(data["columns"])
        distributions = _json_restore(data["distributions"])

        def build(kind: type[Any], item: Mapping[str, Any]) -> Any:
            names = {f.name for f in fields(kind)}
            values = {
                k: (tuple(v) if isinstance(v, list) else v) for k, v in item.items() if k in names
            }
            return kind(**values)

        return cls(
            reference=data["reference"],
            current=data["current"],
            reference_rows=data["reference_rows"],
            current_rows=data["current_rows"],
            columns=tuple(build(ColumnDrift, c) for c in columns),
            drift_share_threshold=data["drift_share_threshold"],
            category_changes=tuple(build(CategoryChange, c) for c in data["category_changes"]),
            null_rate_changes=tuple(build(NullRateChange, c) for c in data["null_rate_changes"]),
            missing_columns=tuple(data["missing_columns"]),
            new_columns=tuple(data["new_columns"]),
            distributions=tuple(build(ColumnDistribution, d) for d in distributions),
        )


_NUMERIC_FIELDS = {"statistic", "p_value", "score", "threshold", "edges", "reference", "current"}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _restore_number(value: Any) -> Any:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, list):
        return [_restore_number(v) for v in value]
    return value


def _json_restore(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: (_restore_number(v) if k in _NUMERIC_FIELDS else _json_restore(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_json_restore(v) for v in value]
    return value
