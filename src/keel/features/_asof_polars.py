"""The point-in-time join with Polars: the fast path of :mod:`keel.features._historical`.

Used for views without ``created_at`` when Polars (the ``data`` extra) is installed;
DuckDB still reads the sources and the entity rows and writes the result, so casts,
text times and row order are the same as on the SQL path (:mod:`keel.features._asof`).

Per view: its usable rows come out of DuckDB with keys, event time ``ts``, source
order and the features; sorted by ``(keys, ts, order)``, only the last row of each
``(keys, ts)`` is kept — the tie winner — so a plain backward as-of join by the keys
picks the latest ``ts <= t``. The TTL is a mask afterwards (``ts >= t - ttl``), and the
rows go back to the entity order by their row number.
"""

# SQL here is built from quote_ident and keel's own fragments only.
# ruff: noqa: S608

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keel.data._sql import quote_ident
from keel.features._asof import ROW, base_sql
from keel.features._declarations import FEATURE_TYPES
from keel.features._request import ViewRequest

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from keel.features._sources import ResolvedSource

__all__ = ["ENGINE_VARIABLE", "available", "join_frames", "view_frame_sql"]

_T = "__keel_t"
_TS = "__keel_ts"
_ORD = "__keel_ord"
_I = "__keel_i"


#: ``duckdb`` forces the SQL join (:mod:`keel.features._asof`) for every request
ENGINE_VARIABLE = "KEEL_FEATURES_JOIN"


def available(requests: Sequence[ViewRequest]) -> bool:
    """Whether the fast path applies: Polars installed, no view with ``created_at``, and
    ``KEEL_FEATURES_JOIN`` is not ``duckdb``."""
    if os.environ.get(ENGINE_VARIABLE, "").strip().lower() == "duckdb":
        return False
    if any(r.view.created_at is not None for r in requests):
        return False
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


def _key_aliases(requests: Sequence[ViewRequest]) -> dict[tuple[str, str], str]:
    aliases: dict[tuple[str, str], str] = {}
    for r in requests:
        for key in r.keys:
            aliases.setdefault(key, f"__keel_k{len(aliases)}")
    return aliases


def view_frame_sql(
    request: ViewRequest, source: ResolvedSource, aliases: dict[tuple[str, str], str]
) -> str:
    """A SELECT of a view's usable rows: keys (as their aliases), ``ts``, source order,
    and the features as ``__keel_f0``..."""
    from keel.features._sources import time_expression

    view = request.view
    keys = ", ".join(
        f"CAST({quote_ident(k)} AS {FEATURE_TYPES[t]}) AS {aliases[(k, t)]}"
        for k, t in request.keys
    )
    feats = ", ".join(f"{quote_ident(f)} AS __keel_f{i}" for i, f in enumerate(request.features))
    ts = time_expression(view.timestamp, source.columns[view.timestamp])
    not_null = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k, _ in request.keys)
    return (
        f"SELECT {keys}, {ts} AS {_TS}, CAST(__keel_ord AS BIGINT) AS {_ORD}, {feats} "
        f"FROM ({base_sql(source)}) WHERE {ts} IS NOT NULL AND {not_null}"
    )


def join_frames(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    entity_columns: Sequence[str],
    event_type: str,
    event_timestamp: str,
    requests: Sequence[ViewRequest],
    sources: Sequence[ResolvedSource],
) -> pa.Table:
    """The entity rows (their columns, in order) with every requested feature column."""
    import polars as pl

    from keel.features._sources import time_expression

    aliases = _key_aliases(requests)
    t = time_expression(event_timestamp, event_type)
    casts = "".join(
        f", CAST({quote_ident(k)} AS {FEATURE_TYPES[kt]}) AS {alias}"
        for (k, kt), alias in aliases.items()
    )
    table = con.sql(f"SELECT *, {t} AS {_T}{casts} FROM {entity} ORDER BY {ROW}").to_arrow_table()
    probe: Any = pl.from_arrow(table.select([_T, *aliases.values()]))
    probe = probe.with_row_index(_I)
    keep = [c for c in entity_columns if c != ROW]
    table = table.select(keep)
    rows = table.num_rows
    for r, source in zip(requests, sources, strict=True):
        by = [aliases[k] for k in r.keys]
        view: Any = con.sql(view_frame_sql(r, source, aliases)).to_arrow_table()
        types = [view.schema.field(f"__keel_f{i}").type for i in range(len(r.features))]
        frame: Any = pl.from_arrow(view)
        del view
        frame = frame.sort([*by, _TS, _ORD])
        last = pl.any_horizontal(
            [(pl.col(c) != pl.col(c).shift(-1)).fill_null(True) for c in [*by, _TS]]
        )
        frame = frame.filter(last).drop(_ORD)
        left = probe.select([_I, _T, *by]).filter(
            pl.all_horizontal([pl.col(c).is_not_null() for c in [_T, *by]])
        )
        left = left.sort([*by, _T])
        joined = left.join_asof(
            frame,
            left_on=_T,
            right_on=_TS,
            by=by,
            strategy="backward",
            check_sortedness=False,
        )
        del frame
        values = [pl.col(f"__keel_f{i}") for i in range(len(r.features))]
        if r.view.ttl:
            fresh = pl.col(_TS) >= pl.col(_T) - pl.duration(seconds=int(r.view.ttl))
            values = [
                pl.when(fresh).then(v).otherwise(None).alias(v.meta.output_name()) for v in values
            ]
        joined = joined.select([pl.col(_I), *values]).sort(_I)
        if joined.height != rows:
            joined = probe.select(_I).join(joined, on=_I, how="left").sort(_I)
        out = joined.to_arrow()
        for i, (column, kind) in enumerate(zip(r.columns, types, strict=True)):
            table = table.append_column(column, out.column(f"__keel_f{i}").cast(kind))
    return table
