"""Normalise a source (file, URL, DataFrame, Arrow table) to one Parquet file.

Files are read by DuckDB (in parallel, keeping row order) and streamed batch by batch
into a pyarrow Parquet writer (:mod:`keel.data._parquet_writer`), so a CSV much larger
than memory is ingested with bounded memory and the Parquet bytes (and so the content
hash) depend only on the data.

Why not DuckDB's own ``COPY ... TO 'x.parquet'``: measured on this data it spends about
a third more CPU than pyarrow's writer (DuckDB 2.0 encodes strings slowly), and with
insertion order kept it ran barely parallel under a memory limit; it also marks a
column REQUIRED when its source's statistics say it has no nulls, so a Parquet file
and the DataFrame it holds would get different bytes.

The concerns live in their own modules: :mod:`~keel.data._sources` (what the source
is), :mod:`~keel.data._readers` (how each format is read and typed),
:mod:`~keel.data._diagnose` (the exact line of a bad file), :mod:`~keel.data._frames`
(in-memory tables) and :mod:`~keel.data._parquet_writer` (deterministic Parquet).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from keel.data._diagnose import csv_error
from keel.data._duckdb import CSV_MEMORY_LIMIT, connect_duckdb
from keel.data._errors import DatasetSourceError
from keel.data._frames import describe, to_arrow_table
from keel.data._parquet_writer import ROW_GROUP_ROWS, stream_relation, write_parquet
from keel.data._readers import csv_relation, json_relation, parquet_relation
from keel.data._sources import FORMATS, FileSource, check_not_empty, file_source

__all__ = [
    "CSV_MEMORY_LIMIT",
    "FORMATS",
    "ROW_GROUP_ROWS",
    "IngestResult",
    "connect_duckdb",
    "ingest",
    "to_arrow_table",
    "write_parquet",
]

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The normalised Parquet file and where its data came from."""

    path: Path
    num_rows: int
    source_uri: str
    source_label: str
    format: str


def ingest(
    source: object,
    dest: Path,
    *,
    format: str | None = None,
    column_types: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Normalise ``source`` into the Parquet file ``dest``.

    Args:
        source: a path or fsspec URL, or an in-memory table (see :func:`to_arrow_table`).
        dest: the Parquet file to write (its folder also receives DuckDB's spill files).
        format: ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet``; by default from the suffix.
        column_types: logical types forcing how CSV columns are read (``{"zip": "string"}``).
        progress: called with the fraction done (an estimate for text files).

    Raises:
        DatasetSourceError: the source cannot be read; nothing is left at ``dest``'s name
            that the caller must keep.
    """
    if not isinstance(source, (str, os.PathLike)):
        table = to_arrow_table(source)
        if column_types:
            raise DatasetSourceError(
                "column_types only applies to CSV files; cast the DataFrame's columns instead"
            )
        con = connect_duckdb(dest.parent)
        try:
            con.register("keel_source", table)
            rows = stream_relation(
                con.sql("SELECT * FROM keel_source"),
                dest,
                None,
                lambda exc: DatasetSourceError(
                    f"the {describe(source)} cannot be converted: {exc}"
                ),
            )
        finally:
            con.close()
        if progress is not None:
            progress(1.0)
        return IngestResult(dest, rows, f"dataframe:{describe(source)}", describe(source), "arrow")

    src = file_source(source, format)
    if column_types and src.format not in ("csv", "tsv"):
        raise DatasetSourceError(
            f"column_types only applies to CSV/TSV files, not {src.format} ({src.display})"
        )
    head = check_not_empty(src)
    csv_like = src.format in ("csv", "tsv")
    con = connect_duckdb(dest.parent, memory_limit=CSV_MEMORY_LIMIT if csv_like else None)
    try:
        if src.fs is not None:
            con.register_filesystem(src.fs)
        on_rows = _row_progress(src, head, progress)
        if src.format in ("csv", "tsv"):
            rel, delimiter, quote = csv_relation(con, src, head, column_types)
            rows = stream_relation(
                rel, dest, on_rows, lambda exc: csv_error(src, exc, delimiter, quote)
            )
            if rows == 0:
                raise DatasetSourceError(
                    f"{src.display} has a header but no data rows; add rows or register "
                    "another file"
                )
        elif src.format in ("jsonl", "json"):
            rel = json_relation(con, src)
            rows = stream_relation(
                rel,
                dest,
                on_rows,
                lambda exc: DatasetSourceError(
                    f"{src.display} cannot be read as JSON: {str(exc).splitlines()[0]}; give "
                    "every value of a column the same type"
                ),
            )
        else:
            rel = parquet_relation(con, src)
            rows = stream_relation(
                rel,
                dest,
                on_rows,
                lambda exc: DatasetSourceError(
                    f"{src.display} cannot be read as Parquet: {str(exc).splitlines()[0]}"
                ),
            )
    finally:
        con.close()
    if progress is not None:
        progress(1.0)
    label = src.display.rstrip("/").rsplit("/", 1)[-1]
    uri = src.uri if src.fs is not None else Path(src.uri).absolute().as_uri()
    return IngestResult(dest, rows, uri, label, src.format)


def _row_progress(
    src: FileSource, head: bytes, progress: Progress | None
) -> Callable[[int], None] | None:
    """Turn rows written into a fraction of the file, from the bytes per line of its head."""
    if progress is None:
        return None
    if src.format == "parquet" or src.compressed:
        return None
    lines = head.count(b"\n") or 1
    estimated_rows = max(1.0, src.size / (len(head) / lines))

    def on_rows(rows: int) -> None:
        progress(min(0.99, rows / estimated_rows))

    return on_rows
