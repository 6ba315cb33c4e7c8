"""Writing record batches as deterministic Parquet: the bytes depend only on the data.

The writer cuts row groups of a fixed number of rows and chooses each column's
encoding from the first row group's data alone, which makes the Parquet bytes (and so
the content hash) the same whenever the same data is written again, whatever the
thread scheduling or the source it came from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.data._errors import DatasetSourceError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["DICTIONARY_MAX_DISTINCT", "ROW_GROUP_ROWS", "stream_relation", "write_parquet"]

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
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = reader.schema
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    total = 0
    writer: pq.ParquetWriter | None = None

    def flush(final: bool) -> None:
        nonlocal pending, pending_rows, writer
        if not pending and writer is not None:
            return
        table = pa.Table.from_batches(pending, schema=schema)
        cut = pending_rows if final else (pending_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        if writer is None:
            writer = pq.ParquetWriter(
                dest,
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
            pending.append(batch)
            pending_rows += batch.num_rows
            total += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                flush(final=False)
            if progress is not None:
                progress(total)
        flush(final=True)
    finally:
        if writer is not None:
            writer.close()
    return total


def stream_relation(
    rel: duckdb.DuckDBPyRelation,
    dest: Path,
    on_rows: Callable[[int], None] | None,
    on_error: Callable[[Exception], DatasetSourceError],
) -> int:
    """Write ``rel`` to ``dest`` as deterministic Parquet; errors mapped by ``on_error``."""
    import duckdb
    import pyarrow as pa

    try:
        with _prefetched(rel.to_arrow_reader(ROW_GROUP_ROWS)) as reader:
            return write_parquet(reader, dest, on_rows)
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        # DuckDB's errors surface as Arrow errors once the stream has started.
        raise on_error(exc) from None


@contextmanager
def _prefetched(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatchReader]:
    """``reader``'s batches, fetched one ahead by a helper thread.

    DuckDB converts each batch to Arrow in the thread that asks for it; asking from a
    helper lets that conversion overlap with the Parquet encoding of the previous
    batch (about 7% less wall time for a large CSV on 2 cores). Errors of the reader
    are raised in the caller; the helper is stopped and joined on exit, so DuckDB is
    idle again before its connection is closed.
    """
    import queue

    import pyarrow as pa

    slots: queue.Queue[Any] = queue.Queue(maxsize=1)
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
