"""Non-blocking metric logging: values queue in memory and are written in batches.

A background thread writes the queue when it holds ``flush_size`` values or every
``flush_interval`` seconds, whichever comes first; ending a run and interpreter exit
flush synchronously. A hard crash loses at most what was queued since the last flush,
and never leaves a half-written batch: each flush is one transaction.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from keel.errors import KeelError, StoreError
from keel.store import Metric, TrackingStore

__all__ = ["MetricBuffer"]

_T = TypeVar("_T")

# Past this many queued values the caller writes synchronously (back-pressure), so a
# slow store cannot make memory grow without bound.
_BACKPRESSURE_FACTOR = 20


class MetricBuffer:
    """A write-behind queue of metric values for any number of runs.

    Args:
        store: where flushed batches go.
        flush_interval: seconds between background flushes.
        flush_size: queued values that trigger a flush.
    """

    def __init__(self, store: TrackingStore, flush_interval: float, flush_size: int) -> None:
        self._store = store
        self._interval = flush_interval
        self._size = flush_size
        self._pending: defaultdict[str, list[tuple[str, float, int, int]]] = defaultdict(list)
        self._count = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: KeelError | None = None

    def add(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        """Queue one value; returns at once (the write happens in the background)."""
        if self._error is not None:
            self._raise_error()
        with self._lock:
            self._pending[run_id].append((key, value, step, timestamp))
            self._count += 1
            count = self._count
        if self._thread is None:
            self._start()
        if count >= self._size:
            if count >= self._size * _BACKPRESSURE_FACTOR:
                self.flush()
            else:
                self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._loop, name="keel-metric-flusher", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
            except KeelError as exc:
                self._error = exc
            except Exception as exc:
                self._error = StoreError(f"writing metrics failed: {exc}")

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def flush(self, run_id: str | None = None) -> None:
        """Write queued values now (of one run, or all); returns when they are stored.

        Values of a batch that fails to write because the store is unreachable are
        kept queued for the next flush; a batch the store refuses (the run has ended,
        say) is dropped and its error raised.
        """
        with self._flush_lock:
            with self._lock:
                if run_id is None:
                    batches = dict(self._pending)
                    self._pending.clear()
                else:
                    batches = {run_id: self._pending.pop(run_id)} if run_id in self._pending else {}
                self._count -= sum(len(v) for v in batches.values())
            for rid, rows in batches.items():
                try:
                    self._store.log_batch(rid, [Metric(*row) for row in rows])
                except StoreError:
                    with self._lock:
                        self._pending[rid][:0] = rows
                        self._count += len(rows)
                    raise
        if self._error is not None:
            self._raise_error()

    def flush_with(self, run_id: str, write: Callable[[list[Metric]], _T]) -> _T:
        """Take the run's queued values and hand them to ``write`` (which stores them).

        Used to end a run: the store writes the last values and the end in one
        transaction. No background flush of the run is in flight meanwhile, so no
        value can reach the store after ``write`` has ended the run. When the store
        is unreachable (``StoreError``) the values stay queued.
        """
        with self._flush_lock:
            with self._lock:
                rows = self._pending.pop(run_id, [])
                self._count -= len(rows)
            try:
                result = write([Metric(*row) for row in rows])
            except StoreError:
                if rows:
                    with self._lock:
                        self._pending[run_id][:0] = rows
                        self._count += len(rows)
                raise
        if self._error is not None:
            self._raise_error()
        return result

    def pending(self) -> int:
        """How many values are queued and not yet stored."""
        with self._lock:
            return self._count

    def close(self) -> None:
        """Flush everything and stop the background thread."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        self.flush()
