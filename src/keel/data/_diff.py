"""Comparing two dataset versions: schema changes and profile shifts.

Computed from the stored schemas and profiles only, so diffing two large versions
reads no data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.context import Context
    from keel.data._version import DatasetVersion

__all__ = ["ColumnShift", "DatasetDiff", "SchemaChange", "diff"]

#: Thresholds above which a shift is flagged ``significant``.
MEAN_SHIFT_STD = 0.1
NULL_FRACTION_DELTA = 0.01
CATEGORY_DISTANCE = 0.1


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """A column added, removed, or changed in type or nullability."""

    column: str
    change: str  # added | removed | type_changed | nullability_changed
    before: str | None = None
    after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "column": self.column,
            "change": self.change,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class ColumnShift:
    """How one statistic of a column moved between the two versions."""

    column: str
    metric: str
    before: Any = field(hash=False)
    after: Any = field(hash=False)
    significant: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "column": self.column,
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "significant": self.significant,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class DatasetDiff:
    """What changed from version ``a`` to version ``b``.

    Attributes:
        a: reference of the first version (``name/version``).
        b: reference of the second version.
        same_content: both have the same content hash.
        rows: row counts ``(a, b)``.
        schema_changes: columns added, removed or retyped.
        shifts: statistics per common column, each flagged ``significant`` past a threshold.
    """

    a: str
    b: str
    same_content: bool
    rows: tuple[int, int]
    schema_changes: tuple[SchemaChange, ...]
    shifts: tuple[ColumnShift, ...]

    @property
    def significant_shifts(self) -> tuple[ColumnShift, ...]:
        """Only the shifts past their threshold."""
        return tuple(s for s in self.shifts if s.significant)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "a": self.a,
            "b": self.b,
            "same_content": self.same_content,
            "rows": list(self.rows),
            "schema_changes": [c.to_dict() for c in self.schema_changes],
            "shifts": [s.to_dict() for s in self.shifts],
        }


def _columns(v: DatasetVersion) -> dict[str, Any]:
    return {c.name: c for c in v.schema.columns}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _column_shifts(name: str, pa: Mapping[str, Any], pb: Mapping[str, Any]) -> list[ColumnShift]:
    shifts = []
    na, nb = pa.get("null_fraction", 0.0), pb.get("null_fraction", 0.0)
    shifts.append(ColumnShift(name, "null_fraction", na, nb, abs(nb - na) > NULL_FRACTION_DELTA))
    if "distinct" in pa and "distinct" in pb:
        shifts.append(ColumnShift(name, "distinct", pa["distinct"], pb["distinct"]))
    kind = pa.get("kind")
    if kind == "numeric" and pb.get("kind") == "numeric":
        mean_a, mean_b, std_a = _num(pa.get("mean")), _num(pb.get("mean")), _num(pa.get("std"))
        significant, note = False, ""
        if mean_a is not None and mean_b is not None:
            scale = std_a if std_a else (abs(mean_a) or 1.0)
            moved = (mean_b - mean_a) / scale
            significant = abs(moved) > MEAN_SHIFT_STD
            note = f"{moved:+.2f} std" if std_a else ""
        shifts.append(ColumnShift(name, "mean", pa.get("mean"), pb.get("mean"), significant, note))
        for key in ("std", "min", "max"):
            shifts.append(ColumnShift(name, key, pa.get(key), pb.get(key)))
        qa, qb = pa.get("quantiles") or {}, pb.get("quantiles") or {}
        if "p50" in qa and "p50" in qb:
            shifts.append(ColumnShift(name, "median", qa["p50"], qb["p50"]))
    elif kind in ("categorical", "boolean") and pb.get("kind") == kind:
        ta = {str(t["value"]): t["count"] for t in pa.get("top", [])}
        tb = {str(t["value"]): t["count"] for t in pb.get("top", [])}
        total_a, total_b = sum(ta.values()) or 1, sum(tb.values()) or 1
        distance = 0.5 * sum(
            abs(ta.get(k, 0) / total_a - tb.get(k, 0) / total_b) for k in set(ta) | set(tb)
        )
        new = sorted(set(tb) - set(ta))
        gone = sorted(set(ta) - set(tb))
        note = ", ".join(
            part
            for part in (f"new: {new[:5]}" if new else "", f"gone: {gone[:5]}" if gone else "")
            if part
        )
        shifts.append(
            ColumnShift(
                name,
                "top_values_distance",
                0.0,
                round(distance, 4),
                distance > CATEGORY_DISTANCE,
                note,
            )
        )
    elif kind == "text" and pb.get("kind") == "text":
        la, lb = pa.get("length") or {}, pb.get("length") or {}
        shifts.append(ColumnShift(name, "mean_length", la.get("mean"), lb.get("mean")))
    elif kind == "temporal" and pb.get("kind") == "temporal":
        shifts.append(ColumnShift(name, "min", pa.get("min"), pb.get("min")))
        shifts.append(ColumnShift(name, "max", pa.get("max"), pb.get("max")))
    return shifts


def diff(
    a: str | DatasetVersion, b: str | DatasetVersion, *, context: Context | None = None
) -> DatasetDiff:
    """Schema changes and profile shifts from version ``a`` to version ``b``.

    Args:
        a: the earlier version (a reference or a ``DatasetVersion``).
        b: the later version.
        context: where references are looked up (the current context by default).

    Example::

        >>> d = keel.datasets.diff("iris/1", "iris/2")
        >>> [c.to_dict() for c in d.schema_changes]
        [{'column': 'petal_area', 'change': 'added', 'before': None, 'after': 'float'}]
    """
    from keel.data._datasets import get

    va, vb = get(a, context=context), get(b, context=context)
    ca, cb = _columns(va), _columns(vb)
    changes: list[SchemaChange] = []
    for name, col in cb.items():
        if name not in ca:
            changes.append(SchemaChange(name, "added", None, col.type))
    for name, col in ca.items():
        if name not in cb:
            changes.append(SchemaChange(name, "removed", col.type, None))
            continue
        other = cb[name]
        if col.type != other.type:
            changes.append(SchemaChange(name, "type_changed", col.type, other.type))
        if col.nullable != other.nullable:
            changes.append(
                SchemaChange(
                    name,
                    "nullability_changed",
                    "nullable" if col.nullable else "not null",
                    "nullable" if other.nullable else "not null",
                )
            )
    shifts: list[ColumnShift] = []
    pa_cols = va.profile.get("columns", {})
    pb_cols = vb.profile.get("columns", {})
    rows_a, rows_b = va.num_rows, vb.num_rows
    growth = (rows_b - rows_a) / rows_a if rows_a else (1.0 if rows_b else 0.0)
    shifts.append(ColumnShift("*", "rows", rows_a, rows_b, abs(growth) > 0.1, f"{growth:+.1%}"))
    for name in ca:
        if name in cb and name in pa_cols and name in pb_cols:
            shifts.extend(_column_shifts(name, pa_cols[name], pb_cols[name]))
    return DatasetDiff(
        a=va.reference,
        b=vb.reference,
        same_content=va.content_hash == vb.content_hash,
        rows=(rows_a, rows_b),
        schema_changes=tuple(changes),
        shifts=tuple(shifts),
    )
