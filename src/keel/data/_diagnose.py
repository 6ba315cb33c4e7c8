"""Finding the exact place a text file goes wrong: delimiter sniffing and error diagnosis.

DuckDB's errors name a line only sometimes; on the error path only, a streaming Python
scan finds the exact line of bad encoding, ragged rows or malformed JSON, so every
failure is a :class:`DatasetSourceError` naming the file, the line and what to do.
"""

# DuckDB SQL is built from quoted identifiers (quote_ident), never raw input.
# ruff: noqa: S608

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING, Any

from keel.data._errors import DatasetSourceError
from keel.data._sources import MAX_LINE_BYTES, FileSource, decoded_lines
from keel.data._sql import quote_ident

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "csv_error",
    "diagnose_csv",
    "diagnose_jsonl",
    "mixed_json_column",
    "raw_header",
]


def _reader(src: FileSource, delimiter: str, quote: str, *, strict: bool = False) -> Any:
    # The csv module refuses fields over 128 KiB by default, though DuckDB reads lines of
    # up to MAX_LINE_BYTES; raising the (process-wide) limit only ever lets more through.
    if csv.field_size_limit() < MAX_LINE_BYTES:
        csv.field_size_limit(MAX_LINE_BYTES)
    return csv.reader(decoded_lines(src), delimiter=delimiter, quotechar=quote, strict=strict)


def _not_csv(src: FileSource, line: int, exc: csv.Error) -> DatasetSourceError:
    if "field larger than field limit" in str(exc):
        return DatasetSourceError(
            f"{src.display} line {line}: a quoted field runs on for more than "
            f"{MAX_LINE_BYTES:,} bytes, the limit for one value; look for a quote that is "
            "never closed before that line"
        )
    return DatasetSourceError(
        f"{src.display} line {line} is not valid CSV ({exc}); fix the quoting there"
    )


def raw_header(src: FileSource, delimiter: str, quote: str) -> list[str]:
    """The header row as the csv module splits it (the names exactly as written)."""
    reader = _reader(src, delimiter, quote)
    try:
        for row in reader:
            return list(row)
    except csv.Error as exc:
        raise _not_csv(src, reader.line_num, exc) from None
    return []


def diagnose_csv(src: FileSource, delimiter: str, quote: str) -> None:
    """Scan the file for the first undecodable, overlong or ragged line (error path only)."""
    reader = _reader(src, delimiter, quote, strict=True)
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
        raise _not_csv(src, reader.line_num, exc) from None


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
    rel: duckdb.DuckDBPyRelation, src: FileSource, column: str
) -> DatasetSourceError:
    """The error for a JSON column whose values mix types, naming where each type starts."""
    quoted = quote_ident(column)
    found = rel.query(
        "keel_json",
        f"SELECT json_type({quoted}) AS kind, min(rn) AS first FROM "
        f"(SELECT {quoted}, row_number() OVER () AS rn FROM keel_json) "
        f"WHERE {quoted} IS NOT NULL GROUP BY kind ORDER BY first LIMIT 4",
    )
    rows = found.fetchall() if found is not None else []
    unit = "line" if src.format == "jsonl" else "record"
    seen = ", ".join(f"{str(kind).lower()} ({unit} {first})" for kind, first in rows)
    return DatasetSourceError(
        f"{src.display}: column {column!r} mixes JSON types ({seen}) and cannot be typed; "
        "make every value of it the same type (e.g. all strings), or drop the column"
    )
