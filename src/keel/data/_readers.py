"""DuckDB relations over CSV, JSON and Parquet files: DuckDB's reading of each format.

Paths and options are bound parameters, never SQL text. CSV columns are typed as
:mod:`keel.data._csv_plan` decided; a JSON column whose values mix types is refused
rather than read as JSON text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.data._csv_plan import CsvPlan, duckdb_csv_args
from keel.data._diagnose import csv_error, diagnose_jsonl, mixed_json_column
from keel.data._errors import DatasetSourceError
from keel.data._sources import FileSource, check_column_names, decoded_lines

if TYPE_CHECKING:
    import duckdb

__all__ = ["csv_relation", "json_relation", "parquet_relation"]


def csv_relation(
    con: duckdb.DuckDBPyConnection, src: FileSource, plan: CsvPlan
) -> duckdb.DuckDBPyRelation:
    """DuckDB's reader over the CSV ``src``, with the plan's delimiter and forced types."""
    import duckdb

    options, params = duckdb_csv_args(src, plan.delimiter, plan.forced)
    try:
        # ``options`` is one of two constant strings; every value is a bound parameter
        return con.sql("SELECT * FROM read_csv(" + options + ")", params=params)  # noqa: S608
    except duckdb.Error as exc:
        raise csv_error(src, exc, plan.delimiter, plan.quote or '"') from None


def json_relation(con: duckdb.DuckDBPyConnection, src: FileSource) -> duckdb.DuckDBPyRelation:
    """A relation reading ``src`` as JSON Lines or a JSON array; mixed columns refused."""
    import duckdb

    layout = "newline_delimited" if src.format == "jsonl" else "array"
    try:
        rel = con.sql("SELECT * FROM read_json(?, format = ?)", params=[src.uri, layout])
        names, types = rel.columns, [str(t) for t in rel.types]
    except duckdb.Error as exc:
        if src.format == "jsonl":
            diagnose_jsonl(src)
        else:
            for _ in decoded_lines(src):
                pass
        first = str(exc).splitlines()[0]
        hint = (
            "each line must be one JSON object"
            if src.format == "jsonl"
            else "the file must be one JSON array of objects"
        )
        raise DatasetSourceError(f"{src.display} cannot be read as JSON: {first}; {hint}") from None
    check_column_names(list(names), src.display)
    for name, type_ in zip(names, types, strict=True):
        if type_ == "JSON":
            raise mixed_json_column(rel, src, name)
    return rel


def parquet_relation(con: duckdb.DuckDBPyConnection, src: FileSource) -> duckdb.DuckDBPyRelation:
    """A relation reading the Parquet file ``src``; its column names checked."""
    import duckdb

    try:
        rel = con.sql("SELECT * FROM read_parquet(?)", params=[src.uri])
        names = rel.columns
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise DatasetSourceError(
            f"{src.display} is not a readable Parquet file ({first}); check that it was "
            "written completely, or pass the right format"
        ) from None
    if src.fs is None:
        import pyarrow.parquet as pq

        names = pq.read_schema(src.uri).names
    check_column_names(list(names), src.display)
    return rel
