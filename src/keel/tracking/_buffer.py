"""Non-blocking metric logging: values queue in memory and are written in batches.

A background thread writes the queue when it holds ``flush_size`` values or every
``flush_interval`` seconds, whichever comes first; ending a run and interpreter exit
flush synchronously. A hard crash loses at most what was queued since the last flush,
and never leaves a half-written batch: each run's batch is one transaction.

A failed write is one of two kinds, and each run's values are handled on their own:

* **unreachable** — the store did not answer (a ``StoreError``: connection refused or
  lost, the database locked or read-only). The values stay queued, in order, and the
  next flush writes them; other runs are written meanwhile.
* **refused** — the store answered and said no for that run (it has ended behind the
  buffer's back, or does not exist): those values can never be stored. They are
  dropped, so they are not retried forever, and the refusal is kept for the run's own
  owner: its next :meth:`MetricBuffer.add`, :meth:`MetricBuffer.flush_run` or
  :meth:`MetricBuffer.flush_with` raises :class:`MetricsNotStoredError`. No other
  run is told.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from keel.errors import KeelError, StoreError
from keel.store import Metric, TrackingStore

__all__ = ["MetricBuffer", "MetricsNotStoredError", "UnstoredMetrics"]

_T = TypeVar("_T")
_Row = tuple[str, float, int, int]

# Past this many queued values the caller writes synchronously (back-pressure), so a
# slow store cannot make memory grow without bound.
_BACKPRESSURE_FACTOR = 20
_MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class UnstoredMetrics:
    """Metric values of one run that the store did not take.

    Attributes:
        run_id: the run.
        count: how many values.
        reason: why, in the store's words.
        refused: ``True`` when the store refused them (they can never be stored and
            were dropped); ``False`` when it could not be reached (they stay queued).
    """

    run_id: str
    count: int
    reason: str
    refused: bool

    def describe(self) -> str:
        """One line: which run, how many values, why."""
        values = "value was" if self.count == 1 else "values were"
        return f"{self.count} metric {values} not stored for run {self.run_id}: {self.reason}"


class MetricsNotStoredError(KeelError):
    """Queued metric values could not be stored (and will not be).

    Raised to the owner of the run: the store refused its values (the run has ended
    elsewhere, or does not exist), or the client was closed while the store could not
    be reached. ``unstored`` says, per run, how many values and why.

    Args:
        unstored: the values of each run that were not stored.
    """

    code = "METRICS_NOT_STORED"
    http_status = 500

    def __init__(self, unstored: Sequence[UnstoredMetrics]) -> None:
        self.unstored = tuple(unstored)
        super().__init__("; ".join(item.describe() for item in self.unstored))


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, KeelError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _is_refusal(exc: BaseException) -> bool:
    # The store answered with a reason about the run (ended, missing, invalid): retrying
    # cannot help. Anything else (StoreError, a driver error) may pass: keep the values.
    return isinstance(exc, KeelError) and not isinstance(exc, StoreError)


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
        self._pending: defaultdict[str, list[_Row]] = defaultdict(list)
        self._count = 0
        # run id -> values the store refused, until the run's owner is told
        self._refused: dict[str, UnstoredMetrics] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        """Queue one value; returns at once (the write happens in the background).

        Raises:
            MetricsNotStoredError: the store refused earlier values of this run (it has
                ended elsewhere, say); this value is not queued either.
            StoreError: the queue is full and the store cannot be reached; this run's
                values (this one included) stay queued.
        """
        if self._refused and run_id in self._refused:
            self._raise_refusal(run_id, also=1)
        with self._lock:
            self._pending[run_id].append((key, value, step, timestamp))
            self._count += 1
            count = self._count
        if self._thread is None:
            self._start()
        if count >= self._size:
            if count >= self._size * _BACKPRESSURE_FACTOR:
                self._raise_for(run_id, self.flush())
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
            # Unreachable: the values stay queued for the next round. Refused: kept for
            # the run's owner. Either way nothing is raised here, to nobody in particular.
            self.flush()

    def flush(self, run_id: str | None = None) -> list[UnstoredMetrics]:
        """Write queued values now (of one run, or all), each run in its own transaction.

        One run's failure never stops another's write. Values the store refuses are
        dropped and kept as a refusal for their run (see :meth:`flush_run`).

        Returns:
            The runs whose values could not be written because the store could not be
            reached; those values stay queued, in order, for the next flush.
        """
        with self._flush_lock:
            with self._lock:
                if run_id is None:
                    batches = list(self._pending.items())
                    self._pending.clear()
                else:
                    rows = self._pending.pop(run_id, None)
                    batches = [(run_id, rows)] if rows else []
                self._count -= sum(len(rows) for _, rows in batches)
            unreachable = []
            for rid, rows in batches:
                try:
                    self._store.log_batch(rid, [Metric(*row) for row in rows])
                except Exception as exc:
                    failed = self._failed(rid, rows, exc)
                    if failed is not None:
                        unreachable.append(failed)
            return unreachable

    def flush_run(self, run_id: str) -> None:
        """Write the run's queued values now; raise if any of them is not stored.

        Raises:
            MetricsNotStoredError: the store refused values of this run (now or in an
                earlier background flush); they are dropped.
            StoreError: the store cannot be reached; the values stay queued.
        """
        self._raise_for(run_id, self.flush(run_id))

    def flush_with(self, run_id: str, write: Callable[[list[Metric]], _T]) -> _T:
        """Take the run's queued values and hand them to ``write`` (which stores them).

        Used to end a run: the store writes the last values and the end in one
        transaction. No background flush of the run is in flight meanwhile, so no
        value can reach the store after ``write`` has ended the run.

        Raises:
            MetricsNotStoredError: values of the run were refused (``write`` was refused
                because the run has ended elsewhere, or an earlier flush was); they
                are dropped.
            StoreError: the store cannot be reached; the values stay queued.
            KeelError: ``write``'s own refusal when no value was lost with it.
        """
        with self._flush_lock:
            with self._lock:
                rows = self._pending.pop(run_id, [])
                self._count -= len(rows)
            try:
                result = write([Metric(*row) for row in rows])
            except Exception as exc:
                failed = self._failed(run_id, rows, exc)
                if failed is not None:
                    raise self._unreachable_error(
                        failed, f"run {run_id} could not be ended"
                    ) from exc
                if run_id in self._refused:
                    self._raise_refusal(run_id, cause=exc)
                raise
        if self._refused and run_id in self._refused:
            self._raise_refusal(run_id)  # the run ended, but earlier values were lost
        return result

    def _failed(self, run_id: str, rows: list[_Row], exc: Exception) -> UnstoredMetrics | None:
        """Handle a failed write of ``rows``: drop and record a refusal, or re-queue."""
        reason = _reason(exc)
        with self._lock:
            if _is_refusal(exc):
                if rows:
                    known = self._refused.get(run_id)
                    count = len(rows) + (known.count if known else 0)
                    self._refused[run_id] = UnstoredMetrics(run_id, count, reason, True)
                return None
            self._pending[run_id][:0] = rows
            self._count += len(rows)
        return UnstoredMetrics(run_id, len(rows), reason, False)

    def _raise_for(self, run_id: str, unreachable: list[UnstoredMetrics]) -> None:
        if self._refused and run_id in self._refused:
            self._raise_refusal(run_id)
        for failed in unreachable:
            if failed.run_id == run_id:
                raise self._unreachable_error(
                    failed, f"metric values of run {run_id} could not be written"
                )

    def _raise_refusal(
        self, run_id: str, also: int = 0, cause: BaseException | None = None
    ) -> None:
        with self._lock:
            known = self._refused.pop(run_id, None)
        if known is None:
            return
        item = UnstoredMetrics(run_id, known.count + also, known.reason, True)
        raise MetricsNotStoredError([item]) from cause

    def _unreachable_error(self, failed: UnstoredMetrics, what: str) -> StoreError:
        with self._lock:
            queued = len(self._pending.get(failed.run_id, ()))
        kept = ""
        if queued:
            values = "value stays" if queued == 1 else "values stay"
            kept = f"; its {queued} metric {values} queued and will be written when it answers"
        return StoreError(f"{what}: {failed.reason}{kept}")

    def pending(self) -> int:
        """How many values are queued and not yet stored."""
        with self._lock:
            return self._count

    def close(self) -> list[UnstoredMetrics]:
        """Flush everything, stop the background thread, and hand over what was lost.

        Returns:
            What could not be stored: values the store refused that no owner has been
            told of yet, and values it could not be reached for. The buffer forgets
            them all; the caller reports them.
        """
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        unreachable = self.flush()
        with self._lock:
            lost = [*self._refused.values(), *unreachable]
            self._refused.clear()
            self._pending.clear()
            self._count = 0
        return lost
