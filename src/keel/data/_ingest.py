"""Normalise a source (file, URL, DataFrame, Arrow table) to one Parquet file.

Ingesting is two steps, so that a bad source fails before any progress is shown:
:func:`open_source` checks everything that can be checked without reading the data
(the file exists, its format, that it is text, its header and names, ``column_types``)
and :meth:`OpenSource.write` then streams the data batch by batch into the
deterministic Parquet writer (:mod:`keel.data._parquet_writer`), hashing the bytes as
they are written. Memory stays bounded, and the Parquet bytes (and so the content
hash) depend only on the data, not on the source's form or the engine that parsed it.

Engines: CSV is parsed by pyarrow's streaming reader where it reads the
file as DuckDB would (see :mod:`keel.data._csv_plan`), otherwise by DuckDB, which also
reads JSON, Parquet, compressed and remote files; an in-memory table goes through
DuckDB too, which gives every source the same Arrow types.

Why not DuckDB's own ``COPY ... TO 'x.parquet'``: measured on this data it spends about
a third more CPU than pyarrow's writer (DuckDB 2.0 encodes strings slowly), and with
insertion order kept it ran barely parallel under a memory limit; it also marks a
column REQUIRED when its source's statistics say it has no nulls, so a Parquet file
and the DataFrame it holds would get different bytes.

The concerns live in their own modules: :mod:`~keel.data._sources` (what the source
is), :mod:`~keel.data._csv_plan` (a CSV's dialect, types and engine),
:mod:`~keel.data._readers` (DuckDB's readers), :mod:`~keel.data._diagnose` (the exact
line of a bad file), :mod:`~keel.data._frames` (in-memory tables) and
:mod:`~keel.data._parquet_writer` (deterministic Parquet).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from keel.data._csv_plan import ARROW_ROW_GROUP_BATCHES, CsvPlan, arrow_csv_reader, plan_csv
from keel.data._diagnose import csv_error
from keel.data._duckdb import CSV_MEMORY_LIMIT, connect_duckdb
from keel.data._errors import DatasetSourceError
from keel.data._frames import describe, to_arrow_table
from keel.data._parquet_writer import (
    ROW_GROUP_ROWS,
    BatchObserver,
    WrittenParquet,
    prefetched,
    stream_relation,
    write_hashed,
    write_parquet,
)
from keel.data._readers import csv_relation, json_relation, parquet_relation
from keel.data._sources import FORMATS, FileSource, check_not_empty, file_source

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "CSV_MEMORY_LIMIT",
    "FORMATS",
    "ROW_GROUP_ROWS",
    "IngestResult",
    "OpenSource",
    "connect_duckdb",
    "ingest",
    "open_source",
    "to_arrow_table",
    "write_parquet",
]

Progress = Callable[[float], None]
#: ``auto``: pyarrow for the CSV files it reads as DuckDB does, DuckDB for the rest;
#: ``duckdb``: DuckDB for everything (the tests compare the two).
Engine = Literal["auto", "duckdb"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The normalised Parquet file, its content hash, and where its data came from."""

    path: Path
    num_rows: int
    source_uri: str
    source_label: str
    format: str
    sha256: str
    size_bytes: int
    engine: str


class OpenSource:
    """A checked source, ready to be written as Parquet; holds a DuckDB connection.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        src: FileSource | None = None,
        head: bytes = b"",
        plan: CsvPlan | None = None,
        relation: duckdb.DuckDBPyRelation | None = None,
        label: str,
        uri: str,
        format: str,
    ) -> None:
        self._con = con
        self._src = src
        self._head = head
        self._plan = plan
        self._relation = relation
        self.label = label
        self.uri = uri
        self.format = format

    def write(
        self,
        dest: Path,
        *,
        progress: Progress | None = None,
        observer: BatchObserver | None = None,
        engine: Engine = "auto",
    ) -> IngestResult:
        """Stream the data into the Parquet file ``dest``.

        Args:
            dest: the file to write; its folder also receives DuckDB's spill files.
            progress: called with the fraction done (an estimate for text files).
            observer: shown every batch before it is written (restarted if the ingest
                falls back from pyarrow to DuckDB).
            engine: ``duckdb`` to parse CSV with DuckDB even where pyarrow could.

        Raises:
            DatasetSourceError: the data cannot be read (ragged row, mixed types, ...).
        """
        src = self._src
        on_rows = _row_progress(src, self._head, progress) if src is not None else None
        engine_used = "duckdb"
        if self._plan is not None and src is not None:
            written, engine_used = self._write_csv(src, self._plan, dest, on_rows, observer, engine)
            if written.rows == 0:
                raise DatasetSourceError(
                    f"{src.display} has a header but no data rows; add rows or register "
                    "another file"
                )
        else:
            if self._relation is None:
                raise RuntimeError(
                    "this source has no reader (an OpenSource is built by open_source)"
                )
            written = stream_relation(self._relation, dest, on_rows, self._on_error, observer)
        if progress is not None:
            progress(1.0)
        return IngestResult(
            dest,
            written.rows,
            self.uri,
            self.label,
            self.format,
            written.sha256,
            written.size,
            engine_used,
        )

    def _write_csv(
        self,
        src: FileSource,
        plan: CsvPlan,
        dest: Path,
        on_rows: Callable[[int], None] | None,
        observer: BatchObserver | None,
        engine: Engine,
    ) -> tuple[WrittenParquet, str]:
        if plan.arrow_types is not None and engine == "auto":
            import pyarrow as pa

            try:
                # parsed in a helper thread while this one encodes; a row group ahead
                with prefetched(
                    arrow_csv_reader(src, plan), ahead=ARROW_ROW_GROUP_BATCHES
                ) as reader:
                    return write_hashed(reader, dest, on_rows, observer), "pyarrow"
            except (pa.ArrowException, OSError):
                pass  # something pyarrow reads differently from DuckDB: DuckDB decides
        rel = csv_relation(self._con, src, plan)
        quote = plan.quote or '"'
        written = stream_relation(
            rel, dest, on_rows, lambda exc: csv_error(src, exc, plan.delimiter, quote), observer
        )
        return written, "duckdb"

    def _on_error(self, exc: Exception) -> DatasetSourceError:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if self._src is None:
            return DatasetSourceError(f"the {self.label} cannot be converted: {first}")
        if self.format in ("jsonl", "json"):
            return DatasetSourceError(
                f"{self._src.display} cannot be read as JSON: {first}; give every value of a "
                "column the same type"
            )
        return DatasetSourceError(f"{self._src.display} cannot be read as Parquet: {first}")

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()

    def __enter__(self) -> OpenSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_source(
    source: object,
    tmp_dir: Path,
    *,
    format: str | None = None,
    column_types: Mapping[str, str] | None = None,
) -> OpenSource:
    """Check ``source`` as far as can be done without reading all of it.

    Args:
        source: a path or fsspec URL, or an in-memory table (see :func:`to_arrow_table`).
        tmp_dir: where DuckDB may spill.
        format: ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet``; by default from the suffix.
        column_types: logical types forcing how CSV columns are read (``{"zip": "string"}``).

    Raises:
        DatasetSourceError: missing, a folder, unknown format, empty, binary, a bad header
            or column names, unknown ``column_types``, an unsupported object.
    """
    if not isinstance(source, (str, os.PathLike)):
        return _open_table(source, tmp_dir, column_types)
    src = file_source(source, format)
    if column_types and src.format not in ("csv", "tsv"):
        raise DatasetSourceError(
            f"column_types only applies to CSV/TSV files, not {src.format} ({src.display})"
        )
    head = check_not_empty(src)
    csv_like = src.format in ("csv", "tsv")
    con = connect_duckdb(tmp_dir, memory_limit=CSV_MEMORY_LIMIT if csv_like else None)
    try:
        if src.fs is not None:
            con.register_filesystem(src.fs)
        plan: CsvPlan | None = None
        relation: duckdb.DuckDBPyRelation | None = None
        if csv_like:
            plan = plan_csv(con, src, head, column_types)
        elif src.format in ("jsonl", "json"):
            relation = json_relation(con, src)
        else:
            relation = parquet_relation(con, src)
    except BaseException:
        con.close()
        raise
    label = src.display.rstrip("/").rsplit("/", 1)[-1]
    uri = src.uri if src.fs is not None else Path(src.uri).absolute().as_uri()
    return OpenSource(
        con,
        src=src,
        head=head,
        plan=plan,
        relation=relation,
        label=label,
        uri=uri,
        format=src.format,
    )


def _open_table(
    source: object, tmp_dir: Path, column_types: Mapping[str, str] | None
) -> OpenSource:
    table: pa.Table = to_arrow_table(source)
    if column_types:
        raise DatasetSourceError(
            "column_types only applies to CSV files; cast the DataFrame's columns instead"
        )
    con = connect_duckdb(tmp_dir)
    con.register("keel_source", table)
    return OpenSource(
        con,
        relation=con.sql("SELECT * FROM keel_source"),
        label=describe(source),
        uri=f"dataframe:{describe(source)}",
        format="arrow",
    )


def ingest(
    source: object,
    dest: Path,
    *,
    format: str | None = None,
    column_types: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    engine: Engine = "auto",
) -> IngestResult:
    """Normalise ``source`` into the Parquet file ``dest`` (:func:`open_source`, then write).

    Raises:
        DatasetSourceError: the source cannot be read; nothing is left at ``dest``'s name
            that the caller must keep.
    """
    with open_source(source, dest.parent, format=format, column_types=column_types) as opened:
        return opened.write(dest, progress=progress, engine=engine)


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
