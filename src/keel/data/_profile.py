"""Schema and profile of a normalised Parquet file, computed with DuckDB SQL.

Each pass is one aggregate query over many columns at once. The first gives counts,
nulls, distinct counts, min/max/mean/std, string lengths and time ranges; it can run
over the Arrow batches while they are being written
(:class:`~keel.data._profile_stream.StreamProfile`), so it
overlaps the Parquet encoding and needs no decoding of the file. Then, on the file
(whose footer gives the row count): exact distinct counts and quantiles up to
:data:`EXACT_ROWS` rows, or quantiles from a sample above; and a pass over only the
numeric and categorical columns that, using the first pass's ranges, gives histograms
and top values. (Histograms are kept out of the first query on purpose: in one query
with the other aggregates DuckDB 2.0 spends several times their separate cost on them.)
Up to :data:`EXACT_ROWS` rows every figure is exact; above, distinct counts
(HyperLogLog) and quantiles (t-digest over a deterministic pseudo-random sample of
about :data:`QUANTILE_SAMPLE_ROWS` rows) are approximate and the profile says so
(``"approximate": true``).
"""

# SQL is built from quoted identifiers (quote_ident) and numbers keel computed; paths and
# other values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.data._sql import quote_ident

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "EXACT_ROWS",
    "QUANTILE_SAMPLE_ROWS",
    "FirstPass",
    "collect_values",
    "columns_of",
    "first_pass_sql",
    "logical_type",
    "profile_parquet",
    "schema_of",
]

#: Up to this many rows the profile is exact.
EXACT_ROWS = 1_000_000
#: Above :data:`EXACT_ROWS`, quantiles are estimated from about this many rows (whole
#: 2,048-row vectors drawn at random by DuckDB's system sampling).
QUANTILE_SAMPLE_ROWS = 250_000
QUANTILE_SAMPLE_SEED = 0
#: Quantiles reported for numeric columns.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_K = 10
#: A string column with at most this many distinct values (and no more than half as
#: many as it has values) is categorical: it gets top values instead of being text.
CATEGORY_MAX_DISTINCT = 1000


def logical_type(t: pa.DataType) -> str:
    """The logical type keel shows for an Arrow type (``integer``, ``string``, ...)."""
    import pyarrow.types as pt

    checks = (
        (pt.is_boolean, "boolean"),
        (pt.is_integer, "integer"),
        (pt.is_floating, "float"),
        (pt.is_decimal, "decimal"),
        (lambda x: pt.is_string(x) or pt.is_large_string(x) or pt.is_string_view(x), "string"),
        (pt.is_timestamp, "timestamp"),
        (pt.is_date, "date"),
        (pt.is_time, "time"),
        (pt.is_duration, "duration"),
        (pt.is_dictionary, "categorical"),
        (
            lambda x: pt.is_binary(x) or pt.is_large_binary(x) or pt.is_fixed_size_binary(x),
            "binary",
        ),
        (lambda x: pt.is_list(x) or pt.is_large_list(x) or pt.is_fixed_size_list(x), "list"),
        (pt.is_struct, "struct"),
        (pt.is_map, "map"),
        (pt.is_null, "null"),
    )
    for check, name in checks:
        if check(t):
            return name
    return "other"


def schema_of(path: Path) -> list[dict[str, Any]]:
    """Columns of a Parquet file as ``[{"name", "type", "arrow_type"}]`` (nullability is
    added from the profile: it is what the data shows)."""
    import pyarrow.parquet as pq

    return columns_of(pq.read_schema(path))


def columns_of(schema: pa.Schema) -> list[dict[str, Any]]:
    """An Arrow schema's columns as ``[{"name", "type", "arrow_type"}]`` (see :func:`schema_of`)."""
    return [
        {"name": f.name, "type": logical_type(f.type), "arrow_type": str(f.type)} for f in schema
    ]


def _json_number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


_NUMERIC = ("integer", "float", "decimal")
_ORDERED = ("timestamp", "date", "time")


def _histogram_expr(value: str, lo: float | int, hi: float | int) -> tuple[str, float]:
    width = (hi - lo) / HISTOGRAM_BINS if hi > lo else 1.0
    # repr() of a float round-trips exactly; both numbers were computed by keel
    bin_ = f"least(floor(({value} - {float(lo)!r}) / {float(width)!r}), {HISTOGRAM_BINS - 1})"
    # least() skips NULLs: without the CASE every null would be counted in the last bin
    return f"histogram(CASE WHEN {value} IS NOT NULL THEN {bin_}::INTEGER END)", width


def _numeric_value(q: str, kind: str) -> str:
    """A numeric column as DOUBLE, non-finite floats as NULL."""
    return f"(CASE WHEN isfinite({q}) THEN {q}::DOUBLE END)" if kind == "float" else f"{q}::DOUBLE"


def _bins(
    counts: Mapping[Any, int] | None, lo: float | int, hi: float | int, width: float
) -> dict[str, list[Any]]:
    bins = [0] * HISTOGRAM_BINS
    for b, c in (counts or {}).items():
        if b is not None:
            bins[max(0, min(HISTOGRAM_BINS - 1, int(b)))] += int(c)
    edges = [lo + width * i for i in range(HISTOGRAM_BINS + 1)]
    if hi > lo:
        edges[-1] = hi
    return {"edges": edges, "counts": bins}


_QUANTILES_SQL = "[" + ", ".join(str(q) for q in QUANTILES) + "]"
_NOT_DISTINCT = ("list", "struct", "map", "binary", "null", "other", "boolean")


@dataclass(frozen=True, slots=True)
class FirstPass:
    """The first pass's raw figures: ``values[column][key]``; exact or not as computed."""

    values: dict[str, dict[str, Any]]
    exact: bool | None  # None: computed before the row count was known (a stream)


def first_pass_sql(
    columns: list[dict[str, Any]], exact: bool | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Aggregates and their (column, key) slots; with ``exact`` unknown (None), distinct
    counts are approximate and quantiles are left to a later pass."""
    selects: list[str] = []
    slots: list[tuple[str, str]] = []

    def add(expr: str, name: str, key: str) -> None:
        selects.append(expr)
        slots.append((name, key))

    for col in columns:
        name, kind = col["name"], col["type"]
        q = quote_ident(name)
        add(f"count({q})", name, "count")
        if kind not in _NOT_DISTINCT:
            add(
                f"count(DISTINCT {q})" if exact else f"approx_count_distinct({q})", name, "distinct"
            )
        if kind in _NUMERIC:
            v = _numeric_value(q, kind)
            if kind == "float":
                add(f"count(*) FILTER (WHERE NOT isfinite({q}))", name, "non_finite")
            add(f"min({v})", name, "min")
            add(f"max({v})", name, "max")
            add(f"avg({v})", name, "mean")
            add(f"stddev_samp({v})", name, "std")
            if exact:
                add(f"quantile_cont({v}, {_QUANTILES_SQL})", name, "quantiles")
        elif kind in ("string", "categorical"):
            length = f"length({q}::VARCHAR)"
            add(f"min({length})", name, "len_min")
            add(f"max({length})", name, "len_max")
            add(f"avg({length})", name, "len_mean")
        elif kind == "boolean":
            add(f"count(*) FILTER (WHERE {q})", name, "true")
        elif kind in _ORDERED:
            add(f"min({q})::VARCHAR", name, "min")
            add(f"max({q})::VARCHAR", name, "max")
    return selects, slots


def collect_values(
    columns: list[dict[str, Any]], slots: list[tuple[str, str]], values: tuple[Any, ...]
) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {c["name"]: {} for c in columns}
    for (name, key), value in zip(slots, values, strict=True):
        raw[name][key] = value
    return raw


def profile_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    columns: list[dict[str, Any]],
    first: FirstPass | None = None,
) -> dict[str, Any]:
    """Profile the Parquet file at ``path`` whose schema is ``columns`` (see :func:`schema_of`).

    Args:
        con: the DuckDB connection to run the queries on.
        path: the Parquet file.
        columns: its columns, from :func:`schema_of`.
        first: the first pass, already computed over the batches that were written
            (:class:`~keel.data._profile_stream.StreamProfile`); computed from the
            file when not given.

    Returns:
        ``{"num_rows", "num_columns", "approximate", "columns": {name: {...}}}``; each
        column has ``type``, ``kind`` (numeric, categorical, text, boolean, temporal,
        other), ``nulls``, ``null_fraction``, ``distinct`` and kind-specific figures.
    """
    import pyarrow.parquet as pq

    num_rows = pq.ParquetFile(path).metadata.num_rows
    exact = num_rows <= EXACT_ROWS
    source = str(path)
    if first is None:
        selects, slots = first_pass_sql(columns, exact)
        row = con.execute(f"SELECT {', '.join(selects)} FROM read_parquet(?)", [source]).fetchall()
        raw, done_exact = collect_values(columns, slots, row[0]), exact
    else:
        raw = {name: dict(values) for name, values in first.values.items()}
        done_exact = first.exact
    if done_exact is not True:
        _exact_or_sampled(con, source, columns, raw, exact, num_rows)
    out: dict[str, dict[str, Any]] = {}
    second: list[str] = []
    second_slots: list[tuple[str, str, Any]] = []
    for col in columns:
        entry, exprs = _column_entry(col, raw[col["name"]], num_rows)
        out[col["name"]] = entry
        for expr, key, extra in exprs:
            second.append(expr)
            second_slots.append((col["name"], key, extra))
    if second:
        results = con.execute(
            f"SELECT {', '.join(second)} FROM read_parquet(?)", [source]
        ).fetchall()[0]
        for (name, key, extra), value in zip(second_slots, results, strict=True):
            counts: Mapping[Any, int] = value or {}
            if key == "histogram":
                out[name]["histogram"] = _bins(counts, *extra)
            else:
                top = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))[:TOP_K]
                out[name]["top"] = [{"value": _json_value(v), "count": int(c)} for v, c in top]
    return {
        "num_rows": num_rows,
        "num_columns": len(columns),
        "approximate": not exact,
        "columns": out,
    }


def _exact_or_sampled(
    con: duckdb.DuckDBPyConnection,
    source: str,
    columns: list[dict[str, Any]],
    raw: dict[str, dict[str, Any]],
    exact: bool,
    num_rows: int,
) -> None:
    """Add quantiles (and, for an exact profile, exact distinct counts) to ``raw``."""
    selects: list[str] = []
    slots: list[tuple[str, str]] = []
    for col in columns:
        name, kind = col["name"], col["type"]
        q = quote_ident(name)
        if exact and kind not in _NOT_DISTINCT:
            selects.append(f"count(DISTINCT {q})")
            slots.append((name, "distinct"))
        if kind in _NUMERIC:
            v = _numeric_value(q, kind)
            function = "quantile_cont" if exact else "approx_quantile"
            selects.append(f"{function}({v}, {_QUANTILES_SQL})")
            slots.append((name, "quantiles"))
    if not selects:
        return
    sql = f"SELECT {', '.join(selects)} FROM read_parquet(?)"
    if not exact:
        # t-digest costs ~100 ns a value: estimate from a sample, not from every row; the
        # seed makes the sample (and so the profile) the same on every run
        percent = min(100.0, 100.0 * QUANTILE_SAMPLE_ROWS / max(1, num_rows))
        sql += f" USING SAMPLE {percent:.6f}% (system, {QUANTILE_SAMPLE_SEED})"
    values = con.execute(sql, [source]).fetchall()[0]
    for (name, key), value in zip(slots, values, strict=True):
        raw[name][key] = value


def _column_entry(
    col: dict[str, Any], r: dict[str, Any], num_rows: int
) -> tuple[dict[str, Any], list[tuple[str, str, Any]]]:
    """A column's profile from the first pass, and the second pass's aggregates for it."""
    name, ltype = col["name"], col["type"]
    non_null = int(r.get("count", 0))
    nulls = num_rows - non_null
    entry: dict[str, Any] = {
        "type": ltype,
        "nulls": nulls,
        "null_fraction": (nulls / num_rows) if num_rows else 0.0,
    }
    if "distinct" in r:
        entry["distinct"] = int(r["distinct"] or 0)
    q = quote_ident(name)
    second: list[tuple[str, str, Any]] = []
    if ltype in _NUMERIC:
        entry["kind"] = "numeric"
        for key in ("min", "max", "mean", "std"):
            entry[key] = _json_number(r.get(key))
        if "non_finite" in r:
            entry["non_finite"] = int(r["non_finite"] or 0)
        qs = r.get("quantiles") or []
        entry["quantiles"] = {
            f"p{round(p * 100):02d}": _json_number(v) for p, v in zip(QUANTILES, qs, strict=False)
        }
        if entry["min"] is not None and entry["max"] is not None:
            lo, hi = entry["min"], entry["max"]
            expr, width = _histogram_expr(_numeric_value(q, ltype), lo, hi)
            second.append((expr, "histogram", (lo, hi, width)))
    elif ltype in ("string", "categorical", "boolean"):
        distinct = entry.get("distinct", 0)
        if ltype == "boolean":
            entry["kind"] = "boolean"
            entry["true"] = int(r.get("true") or 0)
            entry["distinct"] = int(entry["true"] > 0) + int(non_null > entry["true"])
        elif distinct <= CATEGORY_MAX_DISTINCT and (distinct <= 20 or distinct * 2 <= non_null):
            entry["kind"] = "categorical"
        else:
            entry["kind"] = "text"
        if ltype != "boolean":
            entry["length"] = {
                "min": _json_number(r.get("len_min")),
                "max": _json_number(r.get("len_max")),
                "mean": _json_number(r.get("len_mean")),
            }
        if entry["kind"] in ("categorical", "boolean") and non_null:
            second.append((f"histogram({q})", "top", None))
    elif ltype in _ORDERED:
        entry["kind"] = "temporal"
        entry["min"], entry["max"] = r.get("min"), r.get("max")
    else:
        entry["kind"] = "other"
    return entry, second
