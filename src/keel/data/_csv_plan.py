"""How a CSV file is read: its dialect and column types, and which engine parses it.

DuckDB's sniffer decides the dialect and the type of every column whichever engine then
parses the file, so a column's type never depends on the engine. The parse itself is
pyarrow's streaming CSV reader (in a helper thread, overlapping the encode) where the
file is one it reads exactly as DuckDB would: a local, uncompressed file; a
one-character delimiter; double quotes or no quoting; no comment lines or skipped rows;
integers, doubles, booleans, text, and ISO dates and timestamps. pyarrow refuses what
it would read differently from DuckDB (``t`` for true, a padded number, a row of the
wrong width, bad UTF-8), and the ingest then starts again with DuckDB's reader, whose
errors name the line. Measured on a 587 MB CSV, pyarrow parses to Arrow with about half
the CPU of DuckDB's parse and Arrow export, and both give the same Arrow table, so the
same Parquet bytes and content hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keel.data._diagnose import diagnose_csv, raw_header
from keel.data._errors import DatasetSourceError
from keel.data._sources import (
    MAX_LINE_BYTES,
    FileSource,
    check_column_names,
    check_line_lengths,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "ARROW_ROW_GROUP_BATCHES",
    "LOGICAL_TO_DUCKDB",
    "CsvPlan",
    "arrow_csv_reader",
    "duckdb_csv_args",
    "plan_csv",
]

#: What ``column_types`` may ask for, and the DuckDB type each reads a column as.
LOGICAL_TO_DUCKDB = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}
#: pyarrow parses at most this much text per task; a line longer than this makes pyarrow
#: fail and the ingest fall back to DuckDB. 1 MiB blocks cost the least CPU here.
ARROW_BLOCK_BYTES = 1 << 20
#: Batches of one block each that may wait for the writer: about two row groups' worth
#: of a CSV of ~100-byte lines (~10,000 rows a block), ~30 MB at most.
ARROW_ROW_GROUP_BATCHES = 24
_ISO_DATE_FORMATS = (None, "", "%Y-%m-%d")
#: keel's options for DuckDB's CSV reader; ``sniff_csv`` gets the same ones, so what it
#: reports is what ``read_csv`` will do. Values are bound parameters.
_OPTIONS = "?, delim = ?, header = true, strict_mode = true, max_line_size = ?"
_OPTIONS_WITH_TYPES = _OPTIONS + ", types = ?"


@dataclass(frozen=True, slots=True)
class CsvPlan:
    """How to read one CSV file.

    Attributes:
        delimiter: the field delimiter.
        quote: the quote character, or ``""`` when the file has no quoting.
        header: the column names exactly as the first line has them.
        forced: DuckDB types forced by ``column_types`` (passed to DuckDB's reader).
        arrow_types: the Arrow type of every column when pyarrow can parse the file;
            ``None`` when only DuckDB's reader can.
    """

    delimiter: str
    quote: str
    header: list[str]
    forced: dict[str, str]
    arrow_types: dict[str, pa.DataType] | None


def plan_csv(
    con: duckdb.DuckDBPyConnection,
    src: FileSource,
    head: bytes,
    column_types: Mapping[str, str] | None,
) -> CsvPlan:
    """Sniff ``src`` and check its header and ``column_types``; reads a sample only.

    Raises:
        DatasetSourceError: bad header (empty or repeated names, too long, not UTF-8),
            unknown ``column_types``, or rows too ragged for DuckDB to find the header.
    """
    check_line_lengths(src)
    delimiter, quote = sniff_delimiter(con, src, head)
    header = raw_header(src, delimiter, quote or '"')
    check_column_names(header, f"{src.display} line 1 (header)")
    forced = _forced_types(src, header, column_types)
    sniffed = _sniff(con, src, delimiter, forced)
    if sniffed is not None and [name for name, _ in sniffed.columns] != header:
        # The sniffer took another line for the header: a ragged file too small for its
        # sample to outvote the bad rows. Name the first bad row; else let DuckDB decide.
        diagnose_csv(src, delimiter, quote or '"')
        sniffed = None
    arrow_types = _arrow_types(src, delimiter, sniffed) if sniffed is not None else None
    quote = sniffed.quote if sniffed is not None else quote
    return CsvPlan(delimiter, quote, header, forced, arrow_types)


def sniff_delimiter(
    con: duckdb.DuckDBPyConnection, src: FileSource, head: bytes
) -> tuple[str, str]:
    """DuckDB's guess of (delimiter, quote); the format's default when it cannot tell.

    The quote is ``""`` when the sniffer saw no quoting.
    """
    import duckdb

    default = "\t" if src.format == "tsv" else ","
    try:
        rows = con.execute("SELECT Delimiter, Quote FROM sniff_csv(?)", [src.uri]).fetchall()
    except duckdb.Error:
        return default, '"'
    if not rows:
        return default, '"'
    delim, quote = rows[0]
    quote = "" if not quote or quote == "(empty)" else quote
    # A ragged file can make the sniffer settle on a delimiter that never occurs in the
    # header (one wide column); the format's own delimiter is then the better guess.
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if not delim or (delim not in first_line and default in first_line):
        return default, quote
    return delim, quote


def _forced_types(
    src: FileSource, header: list[str], column_types: Mapping[str, str] | None
) -> dict[str, str]:
    if not column_types:
        return {}
    unknown = sorted(set(column_types) - set(header))
    if unknown:
        raise DatasetSourceError(
            f"column_types names {unknown} which are not columns of {src.display}; "
            f"its columns are {header}"
        )
    forced = {}
    for column, logical in column_types.items():
        if logical not in LOGICAL_TO_DUCKDB:
            raise DatasetSourceError(
                f"column_types[{column!r}] = {logical!r} is not a type keel can read columns "
                f"as; use one of {', '.join(LOGICAL_TO_DUCKDB)}"
            )
        forced[column] = LOGICAL_TO_DUCKDB[logical]
    return forced


@dataclass(frozen=True, slots=True)
class _Sniffed:
    quote: str
    escape: str
    comment: str
    skip_rows: int
    newline: str
    date_format: str | None
    timestamp_format: str | None
    columns: list[tuple[str, str]]


def _sniff(
    con: duckdb.DuckDBPyConnection, src: FileSource, delimiter: str, forced: dict[str, str]
) -> _Sniffed | None:
    """The dialect and types DuckDB's reader will use with keel's options (``None``: unknown)."""
    import duckdb

    options, params = duckdb_csv_args(src, delimiter, forced)
    # ``options`` is one of two constant strings; every value is a bound parameter
    columns = (
        "Quote, Escape, Comment, SkipRows, NewLineDelimiter, DateFormat, TimestampFormat, Columns"
    )
    query = f"SELECT {columns} FROM sniff_csv({options})"  # noqa: S608
    try:
        rows = con.execute(query, params).fetchall()
    except duckdb.Error:
        return None
    if not rows:
        return None
    quote, escape, comment, skip, newline, date_format, ts_format, columns = rows[0]

    def text(value: str | None) -> str:
        return "" if not value or value == "(empty)" else value

    return _Sniffed(
        text(quote),
        text(escape),
        text(comment),
        int(skip or 0),
        str(newline or ""),
        date_format,
        ts_format,
        [(c["name"], c["type"]) for c in columns],
    )


def duckdb_csv_args(
    src: FileSource, delimiter: str, forced: Mapping[str, str]
) -> tuple[str, list[object]]:
    """The argument list (SQL with ``?``) and its parameters for DuckDB's CSV functions."""
    params: list[object] = [src.uri, delimiter, MAX_LINE_BYTES]
    if not forced:
        return _OPTIONS, params
    return _OPTIONS_WITH_TYPES, [*params, dict(forced)]


def _arrow_types(
    src: FileSource, delimiter: str, sniffed: _Sniffed
) -> dict[str, pa.DataType] | None:
    """Arrow types for pyarrow's reader, or ``None`` when it would not read like DuckDB."""
    import pyarrow as pa

    same_dialect = (
        src.fs is None
        and not src.compressed
        and len(delimiter) == 1
        and sniffed.quote in ("", '"')
        and sniffed.escape in ("", sniffed.quote)
        and not sniffed.comment
        and sniffed.skip_rows == 0
        and sniffed.newline in ("\\n", "\\r\\n")
        and sniffed.date_format in _ISO_DATE_FORMATS
        and not sniffed.timestamp_format
    )
    if not same_dialect:
        return None
    arrow = {
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "VARCHAR": pa.string(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us"),
    }
    if any(t not in arrow for _, t in sniffed.columns):
        return None
    return {name: arrow[t] for name, t in sniffed.columns}


def arrow_csv_reader(src: FileSource, plan: CsvPlan) -> pa.RecordBatchReader:
    """pyarrow's streaming reader for a plan with ``arrow_types`` (parses on every core).

    Its options reproduce DuckDB's reading: only an empty field is null (quoted or not),
    quotes are doubled inside quoted fields, quoted fields may span lines, and an empty
    line is skipped, except in a one-column file, where it is a null value.
    """
    import pyarrow.csv as pcsv

    if plan.arrow_types is None:
        raise ValueError("this CSV plan has no Arrow types; read it with DuckDB")
    return pcsv.open_csv(
        src.uri,
        read_options=pcsv.ReadOptions(use_threads=True, block_size=ARROW_BLOCK_BYTES),
        parse_options=pcsv.ParseOptions(
            delimiter=plan.delimiter,
            quote_char=plan.quote or False,
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=len(plan.header) > 1,
        ),
        convert_options=pcsv.ConvertOptions(
            column_types=plan.arrow_types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
