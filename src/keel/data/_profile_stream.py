"""The profile's first pass, computed by DuckDB from the batches as they are written."""

# The query is built from quoted identifiers (quote_ident) only.
# ruff: noqa: S608

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from keel.data._profile import FirstPass, collect_values, columns_of, first_pass_sql

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["StreamProfile"]

#: Batches the streamed first pass may lag behind the writer before the writer waits.
_STREAM_AHEAD = 24


class StreamProfile:
    """The profile's first pass, computed by DuckDB from batches as they are written.

    A :class:`~keel.data._parquet_writer.BatchObserver`: the writer hands it every batch,
    a helper thread runs the aggregate query over them, and :meth:`finish` returns the
    figures once the last batch is in. Use as a context manager (the query is stopped
    and its thread joined on exit, also after an error or Ctrl-C).

    Example::

        >>> with StreamProfile(con) as first:
        ...     write_hashed(reader, dest, observer=first)
        ...     profile = profile_parquet(con, dest, schema_of(dest), first.finish())
    """

    _END = object()

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._thread: threading.Thread | None = None
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=_STREAM_AHEAD)
        self._stopped = threading.Event()
        self._result: FirstPass | None = None
        self._error: BaseException | None = None

    def begin(self, schema: pa.Schema) -> None:
        """Start (or restart) the query over a new stream of ``schema``."""
        import pyarrow as pa

        self._stop()
        self._batches = queue.Queue(maxsize=_STREAM_AHEAD)
        self._stopped = threading.Event()
        self._result, self._error = None, None
        columns = columns_of(schema)
        selects, slots = first_pass_sql(columns, exact=None)
        reader = pa.RecordBatchReader.from_batches(schema, self._drain(self._batches))

        def run() -> None:
            try:
                self._con.register("keel_stream", reader)
                row = self._con.execute(f"SELECT {', '.join(selects)} FROM keel_stream").fetchall()
                self._result = FirstPass(collect_values(columns, slots, row[0]), exact=None)
            except BaseException as exc:  # handed to the writer's thread
                self._error = exc
            finally:
                self._stopped.set()

        self._thread = threading.Thread(target=run, name="keel-profile", daemon=True)
        self._thread.start()

    def _drain(self, batches: queue.Queue[Any]) -> Iterator[pa.RecordBatch]:
        while (item := batches.get()) is not self._END:
            yield item

    def add(self, batch: pa.RecordBatch) -> None:
        """Queue one batch (waits while the query is far behind)."""
        while not self._stopped.is_set():
            try:
                self._batches.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue
        self._raise()

    def finish(self) -> FirstPass:
        """The first pass's figures, once every batch has been added."""
        self.add(self._END)  # the end marker, queued like a batch
        if self._thread is not None:
            self._thread.join()
        self._raise()
        if self._result is None:
            raise RuntimeError("the stream profile was never started")
        return self._result

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        if thread.is_alive():
            self._con.interrupt()
            while thread.is_alive():  # unblock a query waiting for its next batch
                try:
                    self._batches.put(self._END, timeout=0.1)
                except queue.Full:
                    with self._batches.mutex:
                        self._batches.queue.clear()
                thread.join(0.1)
        self._thread = None
        try:
            self._con.unregister("keel_stream")
        except Exception:  # never registered: the query failed before it started
            pass

    def __enter__(self) -> StreamProfile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()
