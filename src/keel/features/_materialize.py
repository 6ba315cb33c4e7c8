"""``keel features materialize``: the latest feature vector of every entity, from a view's
source into the online store, reading only what is new since the last run.

Per view, one DuckDB query reads the source rows after the view's watermark (and at or
before ``end``), keeps the latest row per entity (``QUALIFY row_number() ...``: newest
event time, then newest ``created_at``, then the tie rule of the offline join) and
streams the winners, in Arrow batches, into the online store as records; the
watermark moves only once they are all stored.

The watermark is on the column that says when a row became available: ``created_at``
when the view declares one (so a late correction of an old event is still picked up),
else the event timestamp. A run reads ``watermark < column <= end`` and moves the
watermark to the newest value it read. A change of the view's layout (its keys,
features or their types: the schema fingerprint) starts it over from the beginning.
"""

# SQL here is built from quote_ident and keel's own fragments only.
# ruff: noqa: S608

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keel.context import Context, current_context
from keel.data._sql import quote_ident
from keel.errors import InvalidArgumentError
from keel.features._declarations import Entity, FeatureView
from keel.features._online import OnlineStore, Watermark, default_online_uri, open_online_store
from keel.features._online_codec import (
    FeatureKind,
    RecordCodec,
    entity_keys_from_arrow,
    from_micros,
    schema_fingerprint,
    to_micros,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "MaterializeReport",
    "ViewLayout",
    "ViewMaterialization",
    "materialize",
    "parse_time",
    "view_layout",
]

#: a declared feature type -> its kind in an online record
KINDS: dict[str, FeatureKind] = {
    "int64": "int",
    "int32": "int",
    "float64": "float",
    "float32": "float",
    "bool": "bool",
    "string": "string",
    "timestamp": "timestamp",
}
_BATCH_ROWS = 100_000


@dataclass(frozen=True)
class ViewLayout:
    """What the online store needs to know about a view to write and read its records.

    Attributes:
        view: the view.
        version: its registered version.
        join_keys: the join-key columns of its entities, in order.
        codec: the record codec (its fingerprint is the view's schema fingerprint).
    """

    view: FeatureView
    version: int
    join_keys: tuple[str, ...]
    codec: RecordCodec

    @property
    def fingerprint(self) -> bytes:
        """The schema fingerprint of the view's records."""
        return self.codec.fingerprint


def view_layout(view: FeatureView, version: int, entities: Sequence[Entity]) -> ViewLayout:
    """The online layout of ``view`` (whose entities are ``entities``, in its order)."""
    keys = tuple(k for e in entities for k in e.key_names)
    kinds = tuple(KINDS[f.dtype] for f in view.features)
    fingerprint = schema_fingerprint(
        view.name, keys, [(f.name, k) for f, k in zip(view.features, kinds, strict=True)]
    )
    return ViewLayout(view, version, keys, RecordCodec(fingerprint, kinds))


def load_layout(name: str, context: Context) -> ViewLayout:
    """The layout of the registered view ``name`` (latest version)."""
    from keel.features._apply import get_entity, get_view

    view, found = get_view(name, context=context)
    entities = [get_entity(e, context=context)[0] for e in view.entities]
    return view_layout(view, found.version, entities)


@dataclass(frozen=True)
class ViewMaterialization:
    """What one view's run did.

    Attributes:
        view: the view's name.
        version: the view version materialized.
        rows: entities read (the latest row of each entity with new rows).
        written: records that replaced (or added) a stored one.
        full: whether the run read the whole source (a first run, or a changed schema).
        watermark_before: the watermark before the run (``None``: none).
        watermark: the watermark after it.
        source_latest: the newest value of the watermark's column in the whole source.
        seconds: how long it took.
    """

    view: str
    version: int
    rows: int
    written: int
    full: bool
    watermark_before: datetime | None
    watermark: datetime | None
    source_latest: datetime | None
    seconds: float

    @property
    def lag_seconds(self) -> float:
        """How far the online store is behind the source after this run (0: caught up)."""
        if self.source_latest is None or self.watermark is None:
            return 0.0
        return max(0.0, (self.source_latest - self.watermark).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``--json``)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "view": self.view,
            "version": self.version,
            "rows": self.rows,
            "written": self.written,
            "full": self.full,
            "watermark_before": iso(self.watermark_before),
            "watermark": iso(self.watermark),
            "source_latest": iso(self.source_latest),
            "lag_seconds": self.lag_seconds,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class MaterializeReport:
    """What :func:`materialize` did, view by view.

    Attributes:
        online_store: the online store written (password masked).
        end: the end of the window (``None``: everything in the source).
        views: one entry per view.
    """

    online_store: str
    end: datetime | None
    views: tuple[ViewMaterialization, ...]

    @property
    def rows(self) -> int:
        """Entities read over every view."""
        return sum(v.rows for v in self.views)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``--json``)."""
        return {
            "online_store": self.online_store,
            "end": None if self.end is None else self.end.isoformat(),
            "views": [v.to_dict() for v in self.views],
        }


def parse_time(value: datetime | str | None, what: str = "end") -> datetime | None:
    """An aware UTC datetime from a datetime or ISO-8601 text (naive means UTC).

    Raises:
        InvalidArgumentError: text that is not ISO-8601.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidArgumentError(
                f"{what} {value!r} is not a time; write ISO-8601: 2026-05-01, "
                "2026-05-01T12:00:00 or 2026-05-01T12:00:00+02:00 (no offset: UTC)"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{what} must be a datetime or ISO-8601 text, not {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _time_micros(expression: str) -> str:
    return f"epoch_us({expression})"


def _feature_expression(name: str, dtype: str, duck_type: str) -> str:
    from keel.features._sources import time_expression

    if dtype == "timestamp":
        return f"{time_expression(name, duck_type)} AS {quote_ident(name)}"
    from keel.features._declarations import FEATURE_TYPES

    return f"CAST({quote_ident(name)} AS {FEATURE_TYPES[dtype]}) AS {quote_ident(name)}"


def _ordered(relation: str) -> tuple[str, str]:
    """The source with a column giving each row's place in it, for the tie rule the
    offline join uses (docs/decisions.md, issue 13): among rows of one entity with the
    same event time (and ``created_at``), the one that comes last in the source wins,
    in file order for Parquet files and datasets (a glob's files in name order), in the
    query's order for SQL sources."""
    order = "__keel_ord"
    if relation.startswith("read_parquet("):
        path = relation[len("read_parquet(") : -1]
        inner = relation[:-1] + ", file_row_number = true, filename = true)"
        if any(ch in path for ch in "*?["):
            return (
                f"SELECT s.*, "
                f"(f.__keel_file::HUGEINT * 1099511627776 + s.file_row_number) AS {order} "
                f"FROM {inner} s JOIN (SELECT file AS filename, row_number() OVER "
                f"(ORDER BY file) AS __keel_file FROM glob({path})) f USING (filename)",
                order,
            )
        return (
            f"SELECT *, file_row_number AS {order} FROM {inner}",
            order,
        )
    return f"SELECT *, row_number() OVER () AS {order} FROM {relation}", order


def _source_query(
    layout: ViewLayout, relation: str, columns: dict[str, str], *, times_only: bool = False
) -> tuple[str, str]:
    """The source as the columns materialization needs (keys, times, typed features, the
    row's place; or only the times), and the column the watermark is on: the event
    time, or for a view with ``created_at`` the moment a row became known,
    ``greatest(timestamp, created_at)`` (as in the offline join)."""
    from keel.features._sources import time_expression

    view = layout.view
    ts = time_expression(view.timestamp, columns[view.timestamp])
    created = (
        time_expression(view.created_at, columns[view.created_at]) if view.created_at else None
    )
    select = [
        f"{ts} AS __keel_ts",
        f"{created if created else 'NULL::TIMESTAMP'} AS __keel_created",
        f"{f'greatest({ts}, {created})' if created else ts} AS __keel_known",
    ]
    if times_only:
        return f"SELECT {', '.join(select)} FROM {relation}", "__keel_known"
    base, order = _ordered(relation)
    select = [
        *(quote_ident(k) for k in layout.join_keys),
        *select,
        f"{order} AS __keel_ord",
        *(_feature_expression(f.name, f.dtype, columns[f.name]) for f in view.features),
    ]
    return f"SELECT {', '.join(select)} FROM ({base})", "__keel_known"


def _window(mark: str, after_us: int | None, upto_us: int | None) -> str:
    window = ["__keel_ts IS NOT NULL", f"{mark} IS NOT NULL"]
    if after_us is not None:
        window.append(f"{_time_micros(mark)} > {int(after_us)}")
    if upto_us is not None:
        window.append(f"{_time_micros(mark)} <= {int(upto_us)}")
    return " AND ".join(window)


def _bounds_query(inner: str, mark: str, after_us: int | None, end_us: int | None) -> str:
    """The newest watermark-column value in the window (the next watermark) and in the
    whole source (how far the source goes), in one scan."""
    return (
        f"SELECT max({_time_micros(mark)}) FILTER (WHERE {_window(mark, after_us, end_us)}), "
        f"max({_time_micros(mark)}) FROM ({inner})"
    )


def _latest_query(
    layout: ViewLayout, inner: str, mark: str, after_us: int | None, upto_us: int
) -> str:
    """The latest row per entity among the source rows in the window.

    The offline join's rule picks it (decisions 511-512): the newest event time, then
    the newest ``created_at``, then the row that comes last in the source; as there,
    the maximum of one struct per row, which a hash aggregate computes (a window sort
    per entity cost 3x more, measured on 2.5M rows).
    """
    keys = ", ".join(quote_ident(k) for k in layout.join_keys)
    packed = ", ".join(
        f"{quote_ident('f_' + f.name)} := {quote_ident(f.name)}" for f in layout.view.features
    )
    unpacked = ", ".join(
        f"__keel_best.{quote_ident('f_' + f.name)} AS {quote_ident(f.name)}"
        for f in layout.view.features
    )
    # a null created_at sorts first (DuckDB would put it last in a struct comparison)
    best = (
        "max(struct_pack(t := __keel_ts, c := coalesce(__keel_created, TIMESTAMP '0001-01-01'), "
        f"o := __keel_ord, {packed}))"
    )
    return (
        f"SELECT {keys}, {_time_micros('__keel_best.t')} AS __keel_ts_us, {unpacked} FROM ("
        f"SELECT {keys}, {best} AS __keel_best FROM ({inner}) "
        f"WHERE {_window(mark, after_us, upto_us)} GROUP BY {keys})"
    )


def _check_source(
    layout: ViewLayout, con: duckdb.DuckDBPyConnection, context: Context
) -> tuple[str, dict[str, str]]:
    from keel.features._apply import get_entity
    from keel.features._sources import check_columns, check_text_times, resolve_source

    view = layout.view
    resolved = resolve_source(view, con, context)
    entities = [get_entity(e, context=context)[0] for e in view.entities]
    check_columns(view, entities, resolved.columns)
    what = f"the source of feature view {view.name!r} ({view.source.describe()})"
    for column in (view.timestamp, view.created_at):
        if column is not None and resolved.columns[column].upper() == "VARCHAR":
            check_text_times(con, resolved.relation, column, what)
    return resolved.relation, resolved.columns


def _materialize_view(
    layout: ViewLayout,
    online: OnlineStore,
    project: str,
    end_us: int | None,
    context: Context,
) -> ViewMaterialization:
    import duckdb

    started = time.perf_counter()
    name = layout.view.name
    before = online.watermark(project, name)
    full = before is None or before.fingerprint != layout.fingerprint.hex()
    after_us = None if full or before is None else before.event_us
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    rows = 0
    try:
        relation, columns = _check_source(layout, con, context)
        times, mark = _source_query(layout, relation, columns, times_only=True)
        (upto, source_us), *_ = con.execute(_bounds_query(times, mark, after_us, end_us)).fetchall()
        inner, _ = _source_query(layout, relation, columns)
        written = 0
        if upto is not None:
            # rows are read up to the watermark the run will write, so a row that lands
            # in the source while it runs is read by this run or by the next, never lost
            sql = _latest_query(layout, inner, mark, after_us, int(upto))

            def batches() -> Iterator[list[tuple[bytes, bytes]]]:
                nonlocal rows
                reader = con.sql(sql).to_arrow_reader(_BATCH_ROWS)
                for batch in reader if reader is not None else ():
                    if batch.num_rows == 0:
                        continue
                    table = _as_table(batch)
                    keys = entity_keys_from_arrow(table, layout.join_keys)
                    records = layout.codec.encode_arrow(
                        table.column("__keel_ts_us").to_numpy(),
                        [table.column(f.name) for f in layout.view.features],
                    )
                    rows += len(records)
                    # in key order: SQLite's B-tree takes sorted keys faster
                    yield sorted(zip(keys, records, strict=True))

            watermark = Watermark(
                fingerprint=layout.fingerprint.hex(),
                event_us=int(upto),
                source_event_us=int(source_us),
                materialized_us=to_micros(datetime.now(UTC)),
                rows=0,
                view_version=layout.version,
            )
            written = online.write(project, name, batches(), watermark)
    except duckdb.Error as exc:
        from keel.features._errors import FeatureSourceError

        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FeatureSourceError(
            f"the source of feature view {name!r} ({layout.view.source.describe()}) cannot be "
            f"read: {first}; nothing was written (fix the source and run materialize again)"
        ) from None
    finally:
        con.close()
    after = online.watermark(project, name)
    return ViewMaterialization(
        view=name,
        version=layout.version,
        rows=rows,
        written=written,
        full=full,
        watermark_before=None if before is None or full else from_micros(before.event_us),
        watermark=None if after is None else from_micros(after.event_us),
        source_latest=None if source_us is None else from_micros(int(source_us)),
        seconds=time.perf_counter() - started,
    )


def _as_table(batch: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches([batch])


def materialize(
    views: Sequence[str] | str | None = None,
    end: datetime | str | None = None,
    *,
    context: Context | None = None,
) -> MaterializeReport:
    """Write the latest feature vector of every entity of ``views`` to the online store.

    Incremental: each view reads only the source rows after its watermark (the newest
    event time, or ``created_at``, read by the last run), keeps the latest per entity
    and stores it, then moves the watermark. Idempotent (a stored record is replaced
    only by one at least as new) and safe to interrupt (the watermark moves after the
    records: a re-run reads the same rows again).

    Args:
        views: view names (``None``: every registered view).
        end: read rows up to this time (ISO-8601 text or a datetime; naive is UTC);
            ``None``: everything in the source.
        context: the context (the current one when ``None``); its settings'
            ``online_store`` names the online store.

    Returns:
        What each view's run read and wrote, and how far behind the source it is.

    Raises:
        FeatureNotFoundError: a view is not registered (the message lists those that are).
        FeatureSourceError: a view's source lacks a declared column or has bad times.
        OnlineStoreUnavailableError: the online store cannot be reached (no watermark
            moves).

    Example::

        >>> report = keel.features.materialize(["driver_stats"])
        >>> report.views[0].rows
        100000
    """
    ctx = context or current_context()
    end_time = parse_time(end)
    end_us = None if end_time is None else to_micros(end_time)
    names = _view_names(views, ctx)
    layouts = [load_layout(name, ctx) for name in names]
    online = open_online_store(default_online_uri(ctx.settings))
    try:
        done = tuple(
            _materialize_view(layout, online, ctx.project, end_us, ctx) for layout in layouts
        )
    finally:
        online.close()
    return MaterializeReport(online.uri, end_time, done)


def _view_names(views: Sequence[str] | str | None, context: Context) -> list[str]:
    if isinstance(views, str):
        return [views]
    if views is not None:
        return list(dict.fromkeys(views))
    from keel.features._apply import list_definitions

    return [d.name for d in list_definitions("feature_view", context=context)]
