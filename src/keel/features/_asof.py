"""The SQL of a point-in-time join: one ``ASOF LEFT JOIN`` per view.

Each view becomes a relation of its usable rows — keys cast to the entity's declared
types, the event time as naive UTC, an ordered key ``__keel_k`` and the requested
features — and the entity rows are joined to each on the keys and ``__keel_k``.

Without ``created_at`` the ordered key is ``(ts, row)`` packed into a HUGEINT
(``epoch_us * 2^64 + row``), so among rows of one key with the same timestamp the join
itself picks the last in the source. With ``created_at`` a row becomes usable at
``max(ts, created_at)``; a running maximum of ``(ts, created_at, row)`` over that
moment per key (one window pass) gives at every moment the best row known then, and the
join on the moment picks it. TTLs are applied to the chosen row's ``ts``.
"""

# SQL here is built from quote_ident/quote_literal and keel's own fragments only.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from keel.data._sql import quote_ident
from keel.features._declarations import FEATURE_TYPES
from keel.features._request import ViewRequest

if TYPE_CHECKING:
    from keel.features._sources import ResolvedSource

__all__ = ["ROW", "base_sql", "join_sql", "view_sql"]

#: the entity rows' row number, carried through the join to keep their order
ROW = "__keel_row"
_T = "__keel_t"
_TWO_64 = "18446744073709551616"


def view_sql(request: ViewRequest, source: ResolvedSource) -> str:
    """A SELECT giving, per usable row of the view's source: keys, an ordered key
    ``__keel_k`` for the ASOF join, the event time ``__keel_ts`` and the features."""
    from keel.features._sources import time_expression

    view = request.view
    keys = ", ".join(
        f"CAST({quote_ident(k)} AS {FEATURE_TYPES[t]}) AS {quote_ident(k)}" for k, t in request.keys
    )
    feats = ", ".join(quote_ident(f) for f in request.features)
    ts = time_expression(view.timestamp, source.columns[view.timestamp])
    not_null = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k, _ in request.keys)
    order = "__keel_ord"
    base = base_sql(source)
    if view.created_at is None:
        return (
            f"SELECT {keys}, {ts} AS __keel_ts, "
            f"epoch_us({ts})::HUGEINT * {_TWO_64} + {order} AS __keel_k, {feats} "
            f"FROM ({base}) WHERE {ts} IS NOT NULL AND {not_null}"
        )
    created = time_expression(view.created_at, source.columns[view.created_at])
    key_names = ", ".join(quote_ident(k) for k, _ in request.keys)
    packed = ", ".join(f"{quote_ident('f_' + f)} := {quote_ident(f)}" for f in request.features)
    best = (
        f"max(struct_pack(ts := __keel_ts, c := __keel_c, o := {order}, {packed})) OVER "
        f"(PARTITION BY {key_names} ORDER BY __keel_k RANGE BETWEEN UNBOUNDED PRECEDING AND "
        "CURRENT ROW)"
    )
    unpacked = ", ".join(
        f"__keel_best.{quote_ident('f_' + f)} AS {quote_ident(f)}" for f in request.features
    )
    return (
        f"SELECT {key_names}, __keel_best.ts AS __keel_ts, __keel_k, {unpacked} FROM ("
        f"SELECT {key_names}, __keel_k, {best} AS __keel_best FROM ("
        f"SELECT {keys}, {ts} AS __keel_ts, {created} AS __keel_c, "
        f"greatest({ts}, {created}) AS __keel_k, {order}, {feats} FROM ({base}) "
        f"WHERE {ts} IS NOT NULL AND {created} IS NOT NULL AND {not_null}))"
    )


def base_sql(source: ResolvedSource) -> str:
    """A SELECT of every row of a source with its position ``__keel_ord`` (file order
    for Parquet, files of a glob in name order; the query's order otherwise)."""
    order = "__keel_ord"
    if source.relation.startswith("read_parquet("):
        path = _glob_argument(source.relation)
        if any(ch in path for ch in "*?["):
            inner = source.relation[:-1] + ", file_row_number = true, filename = true)"
            # a glob's files are read in name order; rank them so their rows order too
            base = (
                f"SELECT s.*, (f.__keel_file::HUGEINT * 1099511627776 + s.file_row_number) "
                f"AS {order} FROM {inner} s JOIN (SELECT file AS filename, row_number() OVER "
                f"(ORDER BY file) AS __keel_file FROM glob({path})) f USING (filename)"
            )
        else:
            inner = source.relation[:-1] + ", file_row_number = true)"
            base = f"SELECT *, file_row_number AS {order} FROM {inner}"
    else:
        base = f"SELECT *, row_number() OVER () AS {order} FROM {source.relation}"
    return base


def _glob_argument(relation: str) -> str:
    """The path literal of a ``read_parquet('...')`` relation."""
    return relation[len("read_parquet(") : -1]


def join_sql(
    entity: str,
    entity_columns: Sequence[str],
    event_type: str,
    event_timestamp: str,
    requests: Sequence[ViewRequest],
    view_relations: Sequence[str],
) -> str:
    from keel.features._sources import time_expression

    t = time_expression(event_timestamp, event_type)
    select = [f"e.{quote_ident(c)}" for c in entity_columns if c != ROW]
    joins = []
    for i, (r, relation) in enumerate(zip(requests, view_relations, strict=True)):
        alias = f"v{i}"
        on = " AND ".join(
            f"CAST(e.{quote_ident(k)} AS {FEATURE_TYPES[kt]}) = {alias}.{quote_ident(k)}"
            for k, kt in r.keys
        )
        if r.view.created_at is None:
            probe = f"epoch_us(e.{_T})::HUGEINT * {_TWO_64} + ({_TWO_64}::HUGEINT - 1)"
        else:
            probe = f"e.{_T}"
        joins.append(f"ASOF LEFT JOIN {relation} {alias} ON {on} AND {probe} >= {alias}.__keel_k")
        for feature, column in zip(r.features, r.columns, strict=True):
            value = f"{alias}.{quote_ident(feature)}"
            if r.view.ttl:
                value = (
                    f"CASE WHEN {alias}.__keel_ts >= e.{_T} - to_seconds({int(r.view.ttl)}) "
                    f"THEN {value} END"
                )
            select.append(f"{value} AS {quote_ident(column)}")
    return (
        f"SELECT {', '.join(select)} FROM (SELECT *, {t} AS {_T} FROM {entity}) e "
        + " ".join(joins)
        + f" ORDER BY e.{ROW}"
    )
