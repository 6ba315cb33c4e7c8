"""Adaptive micro-batching: requests grouped in arrival order, run together, split back.

One dispatcher task per model and one model thread. The dispatcher takes requests
strictly first-in first-out (never the newest first, so none starves) and closes a
batch for exactly one of three reasons, counted in metrics:

* ``full``: the next request would take the batch past ``max_batch_rows``;
* ``idle``: nobody else is on the way (no request has been received and not yet
  queued), so waiting would only add latency: a lone caller is never made to wait;
* ``wait_elapsed``: ``max_wait`` has passed since the *oldest* request in the batch
  arrived (the wait is measured from that arrival, not re-started per request, so a
  batch neither closes early nor waits longer than promised).

While a batch runs, new requests queue; the next batch takes them all (up to the
limit). A batch that fails is retried one request at a time, so one bad request never
fails its batch-mates. A full queue answers 429 with a Retry-After estimate; a request
that times out leaves the queue without disturbing the others.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from keel.serving._errors import QueueFullError
from keel.serving._inputs import InputBatch
from keel.serving._runtime import Prediction

__all__ = ["BatchObserver", "MicroBatcher"]


class BatchObserver(Protocol):
    """Receives what the batcher does (the metrics implement it)."""

    def batch_dispatched(
        self, rows: int, requests: int, reason: str, oldest_delay_s: float
    ) -> None:
        """A batch of ``rows`` rows from ``requests`` requests was sent to the model."""

    def queue_depth(self, rows: int) -> None:
        """The queue now holds ``rows`` rows."""


@dataclass(slots=True, eq=False)
class _Pending:
    batch: InputBatch
    proba: bool
    future: asyncio.Future[Prediction]
    arrival: float


class _Arrival:
    """A request on its way to the queue: counted from when it is received until it is
    queued, so the dispatcher knows whether waiting for batch-mates can pay off."""

    def __init__(self, batcher: MicroBatcher) -> None:
        self._batcher = batcher
        self._open = True
        batcher._arriving += 1

    def _close(self) -> None:
        if self._open:
            self._open = False
            self._batcher._arriving -= 1
            self._batcher._wake.set()

    async def submit(
        self, batch: InputBatch, proba: bool = False, timeout: float | None = None
    ) -> Prediction:
        """Queue the rows and wait for their outputs."""
        self._close()
        return await self._batcher._submit(batch, proba, timeout)

    def __enter__(self) -> _Arrival:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()


class MicroBatcher:
    """Groups requests for one model (see the module docstring).

    Args:
        run: predicts an :class:`InputBatch` (called in the model's own thread).
        enabled: batch at all; when false each request runs alone, in arrival order.
        max_batch_rows: the most rows in one batch.
        max_wait_s: the longest a request waits for batch-mates.
        max_queue_rows: rows queued beyond which requests get 429.
        observer: told about each batch and the queue depth.
        name: names the model thread.

    Example::

        >>> batcher = MicroBatcher(runtime.predict, max_batch_rows=64, max_wait_s=0.002)
        >>> batcher.start()
        >>> with batcher.arrival() as arrival:
        ...     prediction = await arrival.submit(batch)
    """

    def __init__(
        self,
        run: Callable[[InputBatch, bool], Prediction],
        *,
        enabled: bool = True,
        max_batch_rows: int = 64,
        max_wait_s: float = 0.002,
        max_queue_rows: int = 8192,
        observer: BatchObserver | None = None,
        name: str = "model",
    ) -> None:
        self._run = run
        self.enabled = enabled
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.max_queue_rows = max_queue_rows
        self._observer = observer
        self._name = name
        self._queue: collections.deque[_Pending] = collections.deque()
        self._queued_rows = 0
        self._arriving = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._busy = False
        self._seconds_per_row = 0.001

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatcher (inside the running event loop)."""
        if self._task is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"keel-{self._name}"
            )
            self._task = asyncio.get_running_loop().create_task(self._dispatch_forever())

    async def close(self, timeout: float = 30.0) -> None:
        """Answer what is queued, then stop (the model thread too)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
        for item in self._queue:
            if not item.future.done():
                item.future.set_exception(RuntimeError("the server is stopping"))
        self._queue.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    @property
    def queued_rows(self) -> int:
        """Rows waiting in the queue."""
        return self._queued_rows

    @property
    def idle(self) -> bool:
        """Nothing queued, running or on its way."""
        return not self._queue and not self._busy and self._arriving == 0

    def arrival(self) -> _Arrival:
        """Announce a request that will be submitted (use as a context manager)."""
        return _Arrival(self)

    async def submit(
        self, batch: InputBatch, proba: bool = False, timeout: float | None = None
    ) -> Prediction:
        """Queue rows that were not announced with :meth:`arrival`, and wait for them."""
        return await self._submit(batch, proba, timeout)

    # -- queue ---------------------------------------------------------------------------

    async def _submit(self, batch: InputBatch, proba: bool, timeout: float | None) -> Prediction:
        if self._closing:
            raise RuntimeError("the server is stopping")
        if self._queue and self._queued_rows + batch.rows > self.max_queue_rows:
            retry = max(1, math.ceil(self._queued_rows * self._seconds_per_row))
            raise QueueFullError(
                f"the model's queue is full ({self._queued_rows} rows waiting, limit "
                f"{self.max_queue_rows}); retry after {retry} s",
                retry,
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Prediction] = loop.create_future()
        self._queue.append(_Pending(batch, proba, future, time.perf_counter()))
        self._queued_rows += batch.rows
        if self._observer is not None:
            self._observer.queue_depth(self._queued_rows)
        self._wake.set()
        if timeout is None:
            return await future
        return await asyncio.wait_for(future, timeout)

    def _pop(self) -> _Pending:
        item = self._queue.popleft()
        self._queued_rows -= item.batch.rows
        return item

    async def _assemble(self) -> tuple[list[_Pending], str]:
        items: list[_Pending] = []
        rows = 0
        while True:
            while self._queue:
                head = self._queue[0]
                if head.future.done():  # timed out or cancelled while queued
                    self._pop()
                    continue
                if not self.enabled:
                    return [self._pop()], "unbatched"
                if items and rows + head.batch.rows > self.max_batch_rows:
                    return items, "full"
                items.append(self._pop())
                rows += head.batch.rows
                if rows >= self.max_batch_rows:
                    return items, "full"
            if not items:
                return items, ""
            if self._arriving <= 0 or self._closing:
                return items, "idle"
            remaining = items[0].arrival + self.max_wait_s - time.perf_counter()
            if remaining <= 0:
                return items, "wait_elapsed"
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                pass

    async def _dispatch_forever(self) -> None:
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            items, reason = await self._assemble()
            if self._observer is not None:
                self._observer.queue_depth(self._queued_rows)
            if items:
                self._busy = True
                try:
                    await self._execute(items, reason)
                finally:
                    self._busy = False

    async def _execute(self, items: list[_Pending], reason: str) -> None:
        loop = asyncio.get_running_loop()
        batch = InputBatch.concat([i.batch for i in items])
        proba = any(i.proba for i in items)
        started = time.perf_counter()
        if self._observer is not None:
            self._observer.batch_dispatched(
                batch.rows, len(items), reason, started - items[0].arrival
            )
        try:
            prediction = await loop.run_in_executor(self._executor, self._run, batch, proba)
        except Exception as exc:
            if len(items) == 1:
                _fail(items[0], exc)
                return
            outcomes = await loop.run_in_executor(self._executor, self._run_each, items)
            for item, outcome in zip(items, outcomes, strict=True):
                if isinstance(outcome, Prediction):
                    _succeed(item, outcome)
                else:
                    _fail(item, outcome)
            return
        elapsed = time.perf_counter() - started
        self._seconds_per_row = 0.8 * self._seconds_per_row + 0.2 * elapsed / max(1, batch.rows)
        start = 0
        for item in items:
            stop = start + item.batch.rows
            _succeed(item, prediction if len(items) == 1 else prediction.rows(start, stop))
            start = stop

    def _run_each(self, items: list[_Pending]) -> list[Prediction | BaseException]:
        outcomes: list[Prediction | BaseException] = []
        for item in items:
            try:
                outcomes.append(self._run(item.batch, item.proba))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


def _succeed(item: _Pending, prediction: Prediction) -> None:
    if not item.future.done():
        item.future.set_result(prediction)


def _fail(item: _Pending, exc: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
