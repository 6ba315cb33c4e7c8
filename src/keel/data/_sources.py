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
    "FileSource",
    "check_column_names",
    "check_not_empty",
    "decoded_lines",
    "file_source",
    "open_binary",
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
    if src.format != "parquet" and not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise DatasetSourceError(
            f"{src.display} is empty (only whitespace); write data to it or register another file"
        )
    return head


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


def decoded_lines(src: FileSource) -> Iterator[str]:
    """The file's lines as text; raises naming the first line that is not UTF-8."""
    with open_binary(src) as f:
        for number, raw in enumerate(f, start=1):
            try:
                text: str = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetSourceError(
                    f"{src.display} line {number} is not valid UTF-8 (byte {raw[exc.start]:#04x} "
                    f"at character {exc.start + 1}); save the file as UTF-8, e.g. "
                    f"`iconv -f latin1 -t utf-8 IN > OUT`"
                ) from None
            yield text.removeprefix("\ufeff") if number == 1 else text
