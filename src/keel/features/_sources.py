"""A feature view's source as a DuckDB relation, checked against what the view declares.

Every time is compared as a naive UTC ``TIMESTAMP`` (microseconds): a zone-aware column
is converted to UTC, a naive one is taken to be UTC already, and a text column is
parsed; text that mixes values with and without a UTC offset is refused (it is
ambiguous), as is text that does not parse.
"""

# SQL here is built from quote_ident/quote_literal and keel's own fragments only.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.data._sql import quote_ident, quote_literal
from keel.features._declarations import Entity, FeatureView
from keel.features._errors import FeatureSourceError

if TYPE_CHECKING:
    import duckdb

    from keel.context import Context
    from keel.data import DatasetVersion

__all__ = ["ResolvedSource", "check_columns", "resolve_source", "time_expression"]

_TIME_TYPES = ("TIMESTAMP", "DATE")
# a UTC offset after a time of day (``12:00Z``, ``12:00:00.5+02:00``, ``12:00 -0500``)
_OFFSET = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


@dataclass(frozen=True)
class ResolvedSource:
    """A view's source, readable in one DuckDB connection.

    Attributes:
        view: the view.
        relation: SQL usable after ``FROM`` (a parenthesised query or a table function).
        columns: every column of the source and its DuckDB type.
        datasets: the dataset versions it reads (for lineage).
    """

    view: FeatureView
    relation: str
    columns: dict[str, str]
    datasets: tuple[DatasetVersion, ...]


def _describe(con: duckdb.DuckDBPyConnection, relation: str, what: str) -> dict[str, str]:
    import duckdb

    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FeatureSourceError(f"{what} cannot be read: {first}") from None
    return {str(r[0]): str(r[1]) for r in rows}


def resolve_source(
    view: FeatureView, con: duckdb.DuckDBPyConnection, context: Context | None = None
) -> ResolvedSource:
    """Make ``view``'s source readable in ``con``; datasets are read at their pinned or
    latest version.

    Raises:
        FeatureSourceError: the source cannot be read (a missing file, a dataset that is
            not registered, a query that fails).
    """
    from keel.data import get as get_dataset
    from keel.errors import InvalidArgumentError, NotFoundError

    source = view.source
    what = f"the source of feature view {view.name!r} ({source.describe()})"
    datasets: list[DatasetVersion] = []

    def dataset(ref: str) -> DatasetVersion:
        try:
            version = get_dataset(ref, context=context)
        except (NotFoundError, InvalidArgumentError) as exc:
            raise FeatureSourceError(f"{what}: {exc}") from None
        datasets.append(version)
        return version

    if source.dataset:
        path = dataset(source.dataset).local_path()
        relation = f"read_parquet({quote_literal(str(path))})"
    elif source.parquet:
        relation = f"read_parquet({quote_literal(source.parquet)})"
    else:
        for ref in source.datasets:
            version = dataset(ref)
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {quote_ident(version.name)} AS "
                f"SELECT * FROM read_parquet({quote_literal(str(version.local_path()))})"
            )
        relation = f"({source.sql})"
    columns = _describe(con, relation, what)
    return ResolvedSource(view, relation, columns, tuple(datasets))


def check_columns(view: FeatureView, entities: Sequence[Entity], columns: dict[str, str]) -> None:
    """Refuse a source that lacks a column the view declares, or whose time column is not a time.

    Raises:
        FeatureSourceError: names the view, the missing columns and the columns there are.
    """
    keys = [k for e in entities for k in e.key_names]
    wanted = [view.timestamp, *([view.created_at] if view.created_at else []), *keys]
    wanted += view.feature_names
    missing = [c for c in dict.fromkeys(wanted) if c not in columns]
    if missing:
        roles = []
        for c in missing:
            if c == view.timestamp:
                roles.append(f"{c!r} (its timestamp)")
            elif c == view.created_at:
                roles.append(f"{c!r} (its created_at)")
            elif c in keys:
                roles.append(f"{c!r} (a join key)")
            else:
                roles.append(f"{c!r} (a feature)")
        shown = ", ".join(list(columns)[:40]) + (" ..." if len(columns) > 40 else "")
        raise FeatureSourceError(
            f"the source of feature view {view.name!r} ({view.source.describe()}) has no column "
            f"{', '.join(roles)}; its columns are: {shown}. Fix the view or its source"
        )
    for column in (view.timestamp, view.created_at):
        if column is None:
            continue
        kind = columns[column].upper()
        if not (kind.startswith(_TIME_TYPES) or kind == "VARCHAR"):
            raise FeatureSourceError(
                f"column {column!r} of the source of feature view {view.name!r} is "
                f"{columns[column]}, not a time; give a timestamp, a date or ISO-8601 text"
            )


def time_expression(column: str, duck_type: str) -> str:
    """SQL turning ``column`` (of ``duck_type``) into a naive UTC ``TIMESTAMP``."""
    ident = quote_ident(column)
    kind = duck_type.upper()
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return f"timezone('UTC', {ident})"
    if kind == "VARCHAR":
        return (
            f"CASE WHEN regexp_matches(trim({ident}), '{_OFFSET}') "
            f"THEN timezone('UTC', TRY_CAST(trim({ident}) AS TIMESTAMPTZ)) "
            f"ELSE TRY_CAST(trim({ident}) AS TIMESTAMP) END"
        )
    return f"CAST({ident} AS TIMESTAMP)"


def check_text_times(con: duckdb.DuckDBPyConnection, relation: str, column: str, what: str) -> None:
    """Refuse text times that mix values with and without an offset, or that do not parse.

    Raises:
        FeatureSourceError: naming the column, an example and how many values are bad.
    """
    ident = quote_ident(column)
    expr = time_expression(column, "VARCHAR")
    row: Any = con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(trim({ident}), '{_OFFSET}')), "
        f"count(*) FILTER (WHERE NOT regexp_matches(trim({ident}), '{_OFFSET}')), "
        f"any_value({ident}) FILTER (WHERE regexp_matches(trim({ident}), '{_OFFSET}')), "
        f"any_value({ident}) FILTER (WHERE NOT regexp_matches(trim({ident}), '{_OFFSET}')), "
        f"count(*) FILTER (WHERE {expr} IS NULL), "
        f"any_value({ident}) FILTER (WHERE {expr} IS NULL) "
        f"FROM {relation} WHERE {ident} IS NOT NULL"
    ).fetchone()
    with_zone, without_zone, zoned, naive, bad, example = row
    if with_zone and without_zone:
        raise FeatureSourceError(
            f"column {column!r} of {what} mixes times with a UTC offset ({zoned!r}, "
            f"{with_zone} values) and without one ({naive!r}, {without_zone} values); which "
            "zone the others are in is unknown. Give every value an offset (or none: then "
            "they are read as UTC)"
        )
    if bad:
        raise FeatureSourceError(
            f"column {column!r} of {what} has {bad} value(s) that are not times, e.g. "
            f"{example!r}; write ISO-8601 (2024-05-01 12:00:00, optionally with +02:00)"
        )
