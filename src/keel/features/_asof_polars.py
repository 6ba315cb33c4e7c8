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
_R = "__keel_r"
_P = "__keel_p"
_K = "__keel_rk"


#: ``duckdb`` forces the SQL join (:mod:`keel.features._asof`) for every request;
#: ``grouped`` the Polars join by keys even for one integer key (both for tests)
ENGINE_VARIABLE = "KEEL_FEATURES_JOIN"


def _engine() -> str:
    return os.environ.get(ENGINE_VARIABLE, "").strip().lower()


def available(requests: Sequence[ViewRequest]) -> bool:
    """Whether the fast path applies: Polars installed, no view with ``created_at``, and
    ``KEEL_FEATURES_JOIN`` is not ``duckdb``."""
    if _engine() == "duckdb":
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


def _time(column: str, duck_type: str) -> tuple[str, bool]:
    """SQL for a time column, and whether it is still to be made naive UTC (a
    ``TIMESTAMPTZ``: done in Polars for free, where DuckDB would convert each value)."""
    from keel.features._sources import time_expression

    kind = duck_type.upper()
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return quote_ident(column), True
    return time_expression(column, duck_type), False


def _naive(frame: Any, column: str, aware: bool) -> Any:
    import polars as pl

    if not aware:
        return frame
    return frame.with_columns(pl.col(column).dt.convert_time_zone("UTC").dt.replace_time_zone(None))


def view_frame_sql(
    request: ViewRequest, source: ResolvedSource, aliases: dict[tuple[str, str], str]
) -> tuple[str, bool]:
    """A SELECT of a view's usable rows: keys (as their aliases), ``ts``, source order,
    and the features as ``__keel_f0``...; and whether ``ts`` is still time-zone aware."""
    view = request.view
    keys = ", ".join(
        f"CAST({quote_ident(k)} AS {FEATURE_TYPES[t]}) AS {aliases[(k, t)]}"
        for k, t in request.keys
    )
    feats = ", ".join(f"{quote_ident(f)} AS __keel_f{i}" for i, f in enumerate(request.features))
    ts, aware = _time(view.timestamp, source.columns[view.timestamp])
    not_null = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k, _ in request.keys)
    sql = (
        f"SELECT {keys}, {ts} AS {_TS}, CAST(__keel_ord AS BIGINT) AS {_ORD}, {feats} "
        f"FROM ({base_sql(source)}) WHERE {ts} IS NOT NULL AND {not_null}"
    )
    return sql, aware


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
    import numpy as np
    import polars as pl

    aliases = _key_aliases(requests)
    t, aware = _time(event_timestamp, event_type)
    casts = "".join(
        f", CAST({quote_ident(k)} AS {FEATURE_TYPES[kt]}) AS {alias}"
        for (k, kt), alias in aliases.items()
    )
    table = con.sql(f"SELECT *, {t} AS {_T}{casts} FROM {entity} ORDER BY {ROW}").to_arrow_table()
    probe: Any = pl.from_arrow(table.select([_T, *aliases.values()]))
    probe = _naive(probe.with_row_index(_I), _T, aware)
    table = table.select([c for c in entity_columns if c != ROW])
    rows = table.num_rows
    lefts: dict[tuple[str, ...], Any] = {}
    for r, source in zip(requests, sources, strict=True):
        by = [aliases[k] for k in r.keys]
        sql, ts_aware = view_frame_sql(r, source, aliases)
        view = con.sql(sql).to_arrow_table()
        frame: Any = pl.from_arrow(view.select([*by, _TS, _ORD]))
        frame = _naive(frame.with_row_index(_R), _TS, ts_aware)
        joined = None
        if len(r.keys) == 1 and r.keys[0][1] in ("int64", "int32") and _engine() != "grouped":
            joined = _match_packed(probe, frame, by[0])
        if joined is None:
            joined = _match_by_keys(probe, frame, by, lefts)
        del frame
        chosen = pl.col(_R)
        if r.view.ttl:
            fresh = pl.col(_TS) >= pl.col(_T) - pl.duration(seconds=int(r.view.ttl))
            chosen = pl.when(fresh).then(chosen).otherwise(None)
        picked = joined.select(pl.col(_I), chosen.fill_null(-1).alias(_R))
        del joined
        index = np.full(rows, -1, dtype=np.int64)
        index[picked[_I].to_numpy()] = picked[_R].to_numpy()
        names = [f"__keel_f{i}" for i in range(len(r.features))]
        features: Any = pl.from_arrow(view.select(names))
        types = [view.schema.field(n).type for n in names]
        del view
        take = pl.Series(index).set(pl.Series(index < 0), None)
        values = features.select(pl.all().gather(take)).to_arrow()
        del features
        for name, column, kind in zip(names, r.columns, types, strict=True):
            table = table.append_column(column, values.column(name).cast(kind))
    return table


def _last_of_ties(frame: Any, columns: Sequence[str]) -> Any:
    """Of rows sorted by ``columns`` then source order, the last of each equal run."""
    import polars as pl

    last = pl.any_horizontal([(pl.col(c) != pl.col(c).shift(-1)).fill_null(True) for c in columns])
    return frame.filter(last).drop(_ORD)


def _match_by_keys(probe: Any, frame: Any, by: list[str], lefts: dict[tuple[str, ...], Any]) -> Any:
    """Any keys: an as-of join by the keys on frames sorted by ``(keys, time)``."""
    import polars as pl

    if tuple(by) not in lefts:
        # the entity rows with a time and every key, sorted for the as-of join
        usable = pl.all_horizontal([pl.col(c).is_not_null() for c in [_T, *by]])
        lefts[tuple(by)] = probe.select([_I, _T, *by]).filter(usable).sort([*by, _T])
    frame = _last_of_ties(frame.sort([*by, _TS, _ORD]), [*by, _TS])
    return lefts[tuple(by)].join_asof(
        frame, left_on=_T, right_on=_TS, by=by, strategy="backward", check_sortedness=False
    )


def _match_packed(probe: Any, frame: Any, key: str) -> Any | None:
    """One integer key: ``(key, time)`` packed into one int64 ``(key - min) * width +
    (time - min)``, so both sides sort on one column and the as-of join needs no groups;
    a match from another key (none of the key at or before the time) is dropped. None
    when the ranges do not fit in 62 bits."""
    import polars as pl

    if frame.height == 0:
        return None
    us = pl.col(_TS).dt.epoch("us")
    stats = frame.select(
        pl.col(key).min().alias("k0"),
        pl.col(key).max().alias("k1"),
        us.min().alias("t0"),
        us.max().alias("t1"),
    ).row(0)
    k0, k1, t0, t1 = (int(v) for v in stats)
    width = t1 - t0 + 1
    if (k1 - k0 + 1) * width >= 2**62:
        return None
    packed = (pl.col(key).cast(pl.Int64) - k0) * width + (us - t0)
    # only the packed value and the row travel through the sort; key and time come back
    # from the packed value
    frame = frame.select(packed.alias(_P), _R, _ORD).sort(_P)
    if frame.select((pl.col(_P) == pl.col(_P).shift(-1)).any()).item():
        frame = frame.sort([_P, _ORD])  # ties: source order decides
    frame = _last_of_ties(frame, [_P]).with_columns(
        (pl.col(_P) // width + k0).alias(_K),
        pl.from_epoch(pl.col(_P) % width + t0, time_unit="us").alias(_TS),
    )
    t = pl.col(_T).dt.epoch("us")
    left = (
        probe.select(_I, _T, key)
        .filter(pl.col(key).is_between(k0, k1) & (t >= t0))
        .with_columns(((pl.col(key).cast(pl.Int64) - k0) * width + (t.clip(t0, t1) - t0)).alias(_P))
        .sort(_P)
    )
    joined = left.join_asof(frame, on=_P, strategy="backward", check_sortedness=False)
    same = pl.col(_K) == pl.col(key)
    return joined.with_columns(pl.when(same).then(pl.col(_R)).otherwise(None).alias(_R))
