"""Where a dataset comes from: a local file or an fsspec URL, its format and first bytes.

Everything here runs before any data is parsed, so the cheap checks (the file exists,
is not a folder, has a known format, is not empty, has usable column names) fail fast
with a message naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel.data._errors import DatasetSourceError

__all__ = [
    "FORMATS",
    "MAX_LINE_BYTES",
    "FileSource",
    "check_column_names",
    "check_line_lengths",
    "check_not_empty",
    "check_text",
    "decoded_lines",
    "file_source",
    "open_binary",
    "raw_lines",
]

#: Supported formats and the file suffixes that select them.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt"),
    "tsv": (".tsv", ".tab"),
    "jsonl": (".jsonl", ".ndjson"),
    "json": (".json",),
    "parquet": (".parquet", ".pq"),
}
_COMPRESSION = (".gz", ".zst")
#: The longest line a CSV or JSON Lines file may have (DuckDB's own default limit).
MAX_LINE_BYTES = 2_097_152
#: Signatures of binary formats that end up renamed to ``.csv``, for a message that says what
#: the file really is.
_MAGIC = (
    (b"PAR1", "a Parquet file", "rename it .parquet or pass format='parquet'"),
    (b"PK\x03\x04", "a ZIP archive (or an Excel .xlsx workbook)", "export it as CSV first"),
    (b"\x1f\x8b", "gzip-compressed", "name it .csv.gz so keel decompresses it"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "name it .csv.zst so keel decompresses it"),
    (b"%PDF", "a PDF document", "export the table as CSV first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook", "export it as CSV first"),
    (b"SQLite format 3", "a SQLite database", "export the table as CSV first"),
)


@dataclass(frozen=True, slots=True)
class FileSource:
    uri: str  # what DuckDB and fsspec open
    display: str  # what messages show
    format: str
    size: int
    fs: Any  # the fsspec filesystem (None for local files)
    compressed: bool


def format_of(name: str, explicit: str | None, display: str) -> tuple[str, bool]:
    """The (format, compressed) of a file name, or of an explicit ``format``."""
    lower = name.lower()
    compressed = lower.endswith(_COMPRESSION)
    if compressed:
        lower = lower.rsplit(".", 1)[0]
    if explicit is not None:
        fmt = explicit.lower()
        if fmt not in FORMATS:
            raise DatasetSourceError(
                f"format {explicit!r} is not supported; use one of {', '.join(FORMATS)}"
            )
        return fmt, compressed
    for fmt, suffixes in FORMATS.items():
        if lower.endswith(suffixes):
            return fmt, compressed
    known = ", ".join(s for suffixes in FORMATS.values() for s in suffixes)
    raise DatasetSourceError(
        f"cannot tell the format of {display}: its suffix is not one of {known} "
        "(optionally followed by .gz or .zst); rename the file or pass format='csv' "
        "(or tsv, jsonl, json, parquet)"
    )


def file_source(source: str | os.PathLike[str], fmt: str | None) -> FileSource:
    """Resolve a path or URL to a :class:`FileSource`; raises if missing or a folder."""
    text = os.fspath(source)
    if "://" in text and not text.startswith("file://"):
        import fsspec.core

        try:
            fs, path = fsspec.core.url_to_fs(text)
        except (ImportError, ValueError) as exc:
            raise DatasetSourceError(
                f"cannot open {text!r}: {exc}; install the fsspec package for that protocol "
                "or use a local path"
            ) from None
        if not fs.exists(path):
            raise DatasetSourceError(f"{text} does not exist; check the URL and credentials")
        if fs.isdir(path):
            raise DatasetSourceError(f"{text} is a folder; give the URL of one file")
        fmt, compressed = format_of(path, fmt, text)
        return FileSource(text, text, fmt, int(fs.size(path) or 0), fs, compressed)
    path = Path(text.removeprefix("file://")).expanduser()
    display = str(path)
    if not path.exists():
        hint = ""
        if path.parent.is_dir():
            import difflib

            near = difflib.get_close_matches(
                path.name, [p.name for p in path.parent.iterdir()], n=1
            )
            if near:
                hint = f"; did you mean {str(path.parent / near[0])!r}?"
        raise DatasetSourceError(
            f"file {display!r} does not exist (working directory: {Path.cwd()}){hint or '; check the path'}"
        )
    if path.is_dir():
        raise DatasetSourceError(f"{display!r} is a folder; give the path of one file")
    fmt, compressed = format_of(path.name, fmt, repr(display))
    return FileSource(str(path.absolute()), display, fmt, path.stat().st_size, None, compressed)


def open_binary(src: FileSource) -> Any:
    """The source opened for reading bytes (decompressed when ``.gz``/``.zst``)."""
    if src.fs is None:
        if src.compressed:
            import fsspec

            return fsspec.open(src.uri, "rb", compression="infer").open()
        return Path(src.uri).open("rb")
    import fsspec

    return fsspec.open(src.uri, "rb", compression="infer" if src.compressed else None).open()


def check_not_empty(src: FileSource) -> bytes:
    """The first 1 MiB (decompressed); raises if the file holds nothing."""
    if src.size == 0:
        raise DatasetSourceError(
            f"{src.display} is empty (0 bytes); write data to it or register another file"
        )
    with open_binary(src) as f:
        head: bytes = f.read(1 << 20)
    if src.format == "parquet":
        return head
    check_text(src, head)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise DatasetSourceError(
            f"{src.display} is empty (only whitespace); write data to it or register another file"
        )
    return head


def check_text(src: FileSource, head: bytes) -> None:
    """Raise if the first bytes of a text-format file show it is binary or UTF-16.

    A text file has no NUL bytes and few control characters; a first block of 8 KiB
    tells reliably, and the message can then say so instead of pointing at a line that
    "is not valid UTF-8".
    """
    block = head[:8192]
    if block.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DatasetSourceError(
            f"{src.display} is UTF-16 text (it starts with a UTF-16 byte-order mark); save it "
            'as UTF-8, e.g. `iconv -f utf-16 -t utf-8 IN > OUT` or "CSV UTF-8" in Excel'
        )
    nul = block.count(0)
    control = sum(block.count(c) for c in _CONTROL_BYTES)
    if not nul and control * 10 <= len(block):
        return
    for magic, what, fix in _MAGIC:
        if block.startswith(magic):
            raise DatasetSourceError(
                f"{src.display} looks binary: it is {what}, not {src.format.upper()} text; {fix}"
            )
    found = f"{nul:,} NUL bytes" if nul else f"{control:,} control bytes"
    raise DatasetSourceError(
        f"{src.display} looks binary, not {src.format.upper()} text ({found} in its first "
        f"{len(block):,} bytes); check that this is the file you meant, or pass the right "
        "format (csv, tsv, jsonl, json, parquet)"
    )


#: Bytes that do not occur in text (all C0 controls but tab, newline, form feed, return, escape).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27)) + b"\x7f"


def check_column_names(names: list[str], where: str) -> None:
    """Raise unless every name is non-empty and unique (ignoring case)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name is None or not str(name).strip():
            raise DatasetSourceError(
                f"{where}: column {i} has an empty name; give every column a name in the header"
            )
        key = str(name).lower()
        if key in seen:
            raise DatasetSourceError(
                f"{where}: column name {name!r} appears twice (columns {seen[key]} and {i}; "
                "names are compared ignoring case); rename one of them"
            )
        seen[key] = i


def check_line_lengths(src: FileSource, scan_bytes: int = 4 * MAX_LINE_BYTES) -> None:
    """Raise if one of the lines in the first ``scan_bytes`` is longer than the limit.

    DuckDB's sniffer takes seconds over a line of tens of megabytes before failing on
    it; finding it first costs a few milliseconds of ``bytes.find``.
    """
    with open_binary(src) as f:
        number, length, seen = 1, 0, 0
        while seen < scan_bytes and (block := f.read(1 << 20)):
            seen += len(block)
            start = 0
            while (end := block.find(b"\n", start)) >= 0:
                if length + end - start > MAX_LINE_BYTES:
                    raise _too_long(src, number)
                number, length, start = number + 1, 0, end + 1
            length += len(block) - start
            if length > MAX_LINE_BYTES:
                raise _too_long(src, number)


def _too_long(src: FileSource, number: int) -> DatasetSourceError:
    return DatasetSourceError(
        f"{src.display} line {number} is longer than {MAX_LINE_BYTES:,} bytes, the limit for "
        f"one line of {src.format.upper()}; if the file has no line breaks it is not "
        "line-based text, else values this long are better stored in a Parquet file "
        "(register that instead)"
    )


def raw_lines(src: FileSource) -> Iterator[bytes]:
    """The file's lines as bytes; raises naming the first line longer than :data:`MAX_LINE_BYTES`.

    A line is read at most that far, so a file without line breaks costs bounded memory.
    """
    with open_binary(src) as f:
        number = 0
        while raw := f.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise _too_long(src, number)
            yield raw


def decoded_lines(src: FileSource) -> Iterator[str]:
    """The file's lines as text; raises naming the first line that is not UTF-8 or too long."""
    for number, raw in enumerate(raw_lines(src), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetSourceError(
                f"{src.display} line {number} is not valid UTF-8 (byte {raw[exc.start]:#04x} "
                f"at character {exc.start + 1}); save the file as UTF-8, e.g. "
                f"`iconv -f latin1 -t utf-8 IN > OUT`"
            ) from None
        yield text.removeprefix("\ufeff") if number == 1 else text
