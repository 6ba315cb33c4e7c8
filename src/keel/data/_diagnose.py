"""Finding the exact place a text file goes wrong: delimiter sniffing and error diagnosis.

DuckDB's errors name a line only sometimes; on the error path only, a streaming Python
scan finds the exact line of bad encoding, ragged rows or malformed JSON, so every
failure is a :class:`DatasetSourceError` naming the file, the line and what to do.
"""

# DuckDB SQL is built from quoted identifiers and literals, never raw input.
# ruff: noqa: S608

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING

from keel.data._errors import DatasetSourceError
from keel.data._sources import FileSource, decoded_lines
from keel.data._sql import quote_literal

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "csv_error",
    "diagnose_csv",
    "diagnose_jsonl",
    "mixed_json_column",
    "raw_header",
    "sniff_delimiter",
]


def sniff_delimiter(
    con: duckdb.DuckDBPyConnection, src: FileSource, head: bytes
) -> tuple[str, str]:
    """DuckDB's guess of (delimiter, quote); the format's default when it cannot tell."""
    import duckdb

    default = "\t" if src.format == "tsv" else ","
    try:
        rows = con.execute(
            f"SELECT Delimiter, Quote FROM sniff_csv({quote_literal(src.uri)})"
        ).fetchall()
        row = rows[0] if rows else None
    except duckdb.Error:
        return default, '"'
    if row is None:
        return default, '"'
    delim, quote = row
    quote = quote if quote and quote != "(empty)" else '"'
    # A ragged file can make the sniffer settle on a delimiter that never occurs in the
    # header (one wide column); the format's own delimiter is then the better guess.
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if not delim or (delim not in first_line and default in first_line):
        return default, quote
    return delim, quote


def raw_header(src: FileSource, delimiter: str, quote: str) -> list[str]:
    """The header row as the csv module splits it (the names exactly as written)."""
    reader = csv.reader(decoded_lines(src), delimiter=delimiter, quotechar=quote)
    for row in reader:
        return row
    return []


def diagnose_csv(src: FileSource, delimiter: str, quote: str) -> None:
    """Scan the file for the first undecodable line or ragged row (error path only)."""
    reader = csv.reader(decoded_lines(src), delimiter=delimiter, quotechar=quote, strict=True)
    expected: int | None = None
    try:
        for row in reader:
            if not row:
                continue
            if expected is None:
                expected = len(row)
            elif len(row) != expected:
                raise DatasetSourceError(
                    f"{src.display} line {reader.line_num} has {len(row)} fields but the header has "
                    f"{expected}; fix that row (quote any field that contains {delimiter!r})"
                )
    except csv.Error as exc:
        raise DatasetSourceError(
            f"{src.display} line {reader.line_num} is not valid CSV ({exc}); fix the quoting there"
        ) from None


_LINE = re.compile(r"Line: (\d+)")
_CONVERT = re.compile(
    r'converting column "(?P<col>.*?)"\. Could not convert string "(?P<val>.*?)" to \'(?P<type>\w+)\''
)


def csv_error(src: FileSource, exc: Exception, delimiter: str, quote: str) -> DatasetSourceError:
    """The clearest error for DuckDB failing on ``src``: a typed column, or the exact line."""
    message = str(exc)
    conv = _CONVERT.search(message)
    line = _LINE.search(message)
    if conv:
        at = f"line {line.group(1)}, " if line else ""
        col = conv.group("col")
        return DatasetSourceError(
            f"{src.display} {at}column {col!r}: value {conv.group('val')!r} is not "
            f"{conv.group('type')} like the values before it, so the column mixes types and "
            f"cannot be typed; fix or remove that value, or read the column as text with "
            f"column_types={{{col!r}: 'string'}} (CLI: --type {col}=string)"
        )
    diagnose_csv(src, delimiter, quote)
    first = message.splitlines()[0] if message else type(exc).__name__
    where = f" line {line.group(1)}" if line else ""
    return DatasetSourceError(
        f"{src.display}{where} cannot be read as {src.format.upper()}: {first}; "
        "check the delimiter, quoting and encoding (UTF-8)"
    )


def diagnose_jsonl(src: FileSource) -> None:
    """Scan a JSON Lines file for the first line that is not one JSON object."""
    import json

    for number, line in enumerate(decoded_lines(src), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetSourceError(
                f"{src.display} line {number} is not valid JSON ({exc.msg} at character "
                f"{exc.colno}); each line must be one JSON object"
            ) from None
        if not isinstance(value, dict):
            raise DatasetSourceError(
                f"{src.display} line {number} is a JSON {type(value).__name__}, not an object; "
                "each line must be one object whose keys are the column names"
            )


def mixed_json_column(
    con: duckdb.DuckDBPyConnection, src: FileSource, query: str, column: str
) -> DatasetSourceError:
    """The error for a JSON column whose values mix types, naming where each type starts."""
    quoted = '"' + column.replace('"', '""') + '"'
    rows = con.sql(
        f"SELECT json_type({quoted}) AS kind, min(rn) AS first FROM "
        f"(SELECT {quoted}, row_number() OVER () AS rn FROM ({query})) "
        f"WHERE {quoted} IS NOT NULL GROUP BY kind ORDER BY first LIMIT 4"
    ).fetchall()
    unit = "line" if src.format == "jsonl" else "record"
    seen = ", ".join(f"{str(kind).lower()} ({unit} {first})" for kind, first in rows)
    return DatasetSourceError(
        f"{src.display}: column {column!r} mixes JSON types ({seen}) and cannot be typed; "
        "make every value of it the same type (e.g. all strings), or drop the column"
    )
