"""How each file format is read and typed: a DuckDB relation over CSV, JSON or Parquet.

CSV columns are typed by DuckDB's sniffer unless ``column_types`` forces a logical
type; a JSON column whose values mix types is refused rather than read as JSON text.
"""

# DuckDB SQL is built from quoted identifiers and literals, never raw input.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from keel.data._diagnose import (
    csv_error,
    diagnose_jsonl,
    mixed_json_column,
    raw_header,
    sniff_delimiter,
)
from keel.data._errors import DatasetSourceError
from keel.data._sources import FileSource, check_column_names, decoded_lines
from keel.data._sql import quote_literal

if TYPE_CHECKING:
    import duckdb

__all__ = ["csv_relation", "duckdb_type", "json_relation", "parquet_relation"]

_LOGICAL_TO_DUCKDB = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}


def csv_relation(
    con: duckdb.DuckDBPyConnection,
    src: FileSource,
    head: bytes,
    column_types: Mapping[str, str] | None,
) -> tuple[duckdb.DuckDBPyRelation, str, str]:
    """A relation reading ``src`` as CSV, with its (delimiter, quote); header checked."""
    import duckdb

    delimiter, quote = sniff_delimiter(con, src, head)
    header = raw_header(src, delimiter, quote)
    check_column_names(header, f"{src.display} line 1 (header)")
    options = [f"delim={quote_literal(delimiter)}", "header=true", "strict_mode=true"]
    if column_types:
        unknown = sorted(set(column_types) - set(header))
        if unknown:
            raise DatasetSourceError(
                f"column_types names {unknown} which are not columns of {src.display}; "
                f"its columns are {header}"
            )
        types = ", ".join(
            f"{quote_literal(k)}: {quote_literal(duckdb_type(k, v))}"
            for k, v in column_types.items()
        )
        options.append(f"types={{{types}}}")
    try:
        rel = con.sql(f"SELECT * FROM read_csv({quote_literal(src.uri)}, {', '.join(options)})")
    except duckdb.Error as exc:
        raise csv_error(src, exc, delimiter, quote) from None
    return rel, delimiter, quote


def duckdb_type(column: str, logical: str) -> str:
    """The DuckDB type for a logical ``column_types`` entry."""
    try:
        return _LOGICAL_TO_DUCKDB[logical]
    except KeyError:
        raise DatasetSourceError(
            f"column_types[{column!r}] = {logical!r} is not a type keel can read columns as; "
            f"use one of {', '.join(_LOGICAL_TO_DUCKDB)}"
        ) from None


def json_relation(con: duckdb.DuckDBPyConnection, src: FileSource) -> duckdb.DuckDBPyRelation:
    """A relation reading ``src`` as JSON Lines or a JSON array; mixed columns refused."""
    import duckdb

    layout = "newline_delimited" if src.format == "jsonl" else "array"
    query = f"SELECT * FROM read_json({quote_literal(src.uri)}, format={quote_literal(layout)})"
    try:
        rel = con.sql(query)
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
            raise mixed_json_column(con, src, query, name)
    return rel


def parquet_relation(con: duckdb.DuckDBPyConnection, src: FileSource) -> duckdb.DuckDBPyRelation:
    """A relation reading the Parquet file ``src``; its column names checked."""
    import duckdb

    try:
        rel = con.sql(f"SELECT * FROM read_parquet({quote_literal(src.uri)})")
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
