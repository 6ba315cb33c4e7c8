"""Writing record batches as deterministic Parquet: the bytes depend only on the data.

The writer cuts row groups of a fixed number of rows and chooses each column's
encoding from the first row group's data alone, which makes the Parquet bytes (and so
the content hash) the same whenever the same data is written again, whatever the
thread scheduling or the source it came from.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from keel.data._errors import DatasetSourceError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "DICTIONARY_MAX_DISTINCT",
    "ROW_GROUP_ROWS",
    "BatchObserver",
    "WrittenParquet",
    "prefetched",
    "stream_relation",
    "write_hashed",
    "write_parquet",
]

#: Rows per Parquet row group: fixed, so identical data gives identical bytes.
ROW_GROUP_ROWS = 131_072
#: A column is dictionary-encoded when its first row group has at most this many
#: distinct values and no more than half as many as rows; otherwise encoding it as a
#: dictionary would be tried on every page and abandoned, which costs time for nothing.
DICTIONARY_MAX_DISTINCT = 1 << 16


def _dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth dictionary-encoding, judged from ``table`` (the first row group)."""
    import pyarrow.compute as pc
    import pyarrow.types as pt

    chosen = []
    for field, column in zip(table.schema, table.columns, strict=True):
        t = field.type
        if pt.is_boolean(t) or pt.is_nested(t) or pt.is_null(t) or pt.is_dictionary(t):
            if pt.is_dictionary(t):
                chosen.append(field.name)
            continue
        distinct = pc.count_distinct(column, mode="all").as_py()
        if distinct <= DICTIONARY_MAX_DISTINCT and distinct * 2 <= max(1, table.num_rows):
            chosen.append(field.name)
    return chosen


class BatchObserver(Protocol):
    """Sees every batch as it is written (keel's in-stream profile is one)."""

    def begin(self, schema: pa.Schema) -> None:
        """A new stream starts (again, when an ingest falls back to another engine)."""

    def add(self, batch: pa.RecordBatch) -> None:
        """One more non-empty batch, in order."""


@dataclass(frozen=True, slots=True)
class WrittenParquet:
    """What :func:`write_hashed` wrote: rows, and the sha256 and size of the file's bytes."""

    rows: int
    sha256: str
    size: int


class _HashingFile:
    """A binary file that hashes what is written to it, so the file need not be read back."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._file.flush()

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        self._file.close()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def write_parquet(
    reader: pa.RecordBatchReader,
    dest: Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream record batches into ``dest`` in fixed-size row groups; returns the row count.

    Row groups hold exactly :data:`ROW_GROUP_ROWS` rows (the last one fewer), and the
    columns to dictionary-encode are chosen from the first row group, so the bytes
    depend only on the data, not on how the reader happened to batch it.
    """
    return write_hashed(reader, dest, progress).rows


def write_hashed(
    reader: pa.RecordBatchReader,
    dest: Path,
    progress: Callable[[int], None] | None = None,
    observer: BatchObserver | None = None,
) -> WrittenParquet:
    """:func:`write_parquet`, hashing the bytes as they are written and showing every
    batch to ``observer`` first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = reader.schema
    if observer is not None:
        observer.begin(schema)
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    total = 0
    sink = _HashingFile(dest)
    writer: pq.ParquetWriter | None = None

    def flush(final: bool) -> None:
        nonlocal pending, pending_rows, writer
        if not pending and writer is not None:
            return
        table = pa.Table.from_batches(pending, schema=schema)
        cut = pending_rows if final else (pending_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        if writer is None:
            writer = pq.ParquetWriter(
                sink,
                schema,
                compression="snappy",
                write_statistics=True,
                use_dictionary=_dictionary_columns(table.slice(0, ROW_GROUP_ROWS)),
            )
        if cut:
            writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(cut)
        pending = rest.to_batches() if rest.num_rows else []
        pending_rows = rest.num_rows

    try:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            if observer is not None:
                observer.add(batch)
            pending.append(batch)
            pending_rows += batch.num_rows
            total += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                flush(final=False)
            if progress is not None:
                progress(total)
        flush(final=True)
    finally:
        try:
            if writer is not None:
                writer.close()
        finally:
            sink.close()
    return WrittenParquet(total, sink.hexdigest(), sink.size)


def stream_relation(
    rel: duckdb.DuckDBPyRelation,
    dest: Path,
    on_rows: Callable[[int], None] | None,
    on_error: Callable[[Exception], DatasetSourceError],
    observer: BatchObserver | None = None,
) -> WrittenParquet:
    """Write ``rel`` to ``dest`` as deterministic Parquet; errors mapped by ``on_error``."""
    import duckdb
    import pyarrow as pa

    try:
        with prefetched(rel.to_arrow_reader(ROW_GROUP_ROWS)) as reader:
            return write_hashed(reader, dest, on_rows, observer)
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        # DuckDB's errors surface as Arrow errors once the stream has started.
        raise on_error(exc) from None


@contextmanager
def prefetched(reader: pa.RecordBatchReader, ahead: int = 1) -> Iterator[pa.RecordBatchReader]:
    """``reader``'s batches, fetched up to ``ahead`` batches ahead by a helper thread.

    DuckDB and pyarrow's CSV reader produce each batch in the thread that asks for it;
    asking from a helper lets that work overlap with the Parquet encoding (about 7% less
    wall time for a large CSV through DuckDB on 2 cores). ``ahead`` should cover a row
    group: the writer encodes one all at once, and a helper only one batch ahead would
    wait through every encode and then make the writer wait through the next row
    group's batches. Errors of the reader are raised in the caller; the helper is
    stopped and joined on exit, so DuckDB is idle again before its connection closes.
    """
    import queue

    import pyarrow as pa

    slots: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: Any = end
        except BaseException as exc:  # handed to the caller's thread
            item = exc
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def consume() -> Iterator[pa.RecordBatch]:
        while True:
            item = slots.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    helper = threading.Thread(target=produce, name="keel-ingest-fetch", daemon=True)
    helper.start()
    try:
        yield pa.RecordBatchReader.from_batches(reader.schema, consume())
    finally:
        stop.set()
        helper.join()
