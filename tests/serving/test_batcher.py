"""The micro-batcher against the failures known from other servers' batchers:

* LIFO order starving the oldest request (BentoML, Triton priority queues);
* batches closing early because the wait was re-counted per request (MLServer
  #1936/#2065: a 1 s max_batch_time fired after ~130 ms);
* a lone caller paying the whole max wait on every request, i.e. a timeout acting
  without batching (MLServer #777: one request per max_batch_time);
* one bad request failing its batch-mates; queue overflow crashing instead of 429.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from keel.serving import MicroBatcher
from keel.serving._errors import QueueFullError
from keel.serving._inputs import InputBatch
from keel.serving._runtime import Prediction

from .conftest import run


class Recorder:
    """A model that records each batch (its first column holds request numbers)."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.gate = gate

    def __call__(self, batch: InputBatch, proba: bool) -> Prediction:
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        ids = batch.matrix[:, 0].astype(int).tolist()
        if any(i < 0 for i in ids):
            raise ValueError("negative input")
        self.batches.append(ids)
        return Prediction(batch.matrix[:, 0] * 10)


class Observer:
    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.delays: list[float] = []

    def batch_dispatched(
        self, rows: int, requests: int, reason: str, oldest_delay_s: float
    ) -> None:
        self.reasons.append(reason)
        self.delays.append(oldest_delay_s)

    def queue_depth(self, rows: int) -> None:
        pass


def rows(*ids: int) -> InputBatch:
    return InputBatch(len(ids), matrix=np.array([[i, 0.0] for i in ids], dtype=float))


def test_requests_are_taken_first_in_first_out_while_the_model_is_busy() -> None:
    gate = threading.Event()
    model = Recorder(gate=gate)

    async def main() -> list[Any]:
        b = MicroBatcher(model, max_batch_rows=4, max_wait_s=0.0)
        b.start()
        first = asyncio.create_task(b.submit(rows(0)))
        await asyncio.sleep(0.05)  # request 0 is running, blocked on the gate
        later = []
        for i in range(1, 11):
            later.append(asyncio.create_task(b.submit(rows(i))))
            await asyncio.sleep(0.001)
        gate.set()
        out = await asyncio.gather(first, *later)
        await b.close()
        return out

    outputs = run(main())
    assert [int(o.labels[0]) for o in outputs] == [i * 10 for i in range(11)]
    order = [i for batch in model.batches for i in batch]
    assert order == list(range(11))  # strictly arrival order, oldest first
    assert model.batches[1:] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_a_lone_caller_never_waits_for_batch_mates() -> None:
    model, observer = Recorder(), Observer()

    async def main() -> list[float]:
        b = MicroBatcher(model, max_batch_rows=64, max_wait_s=0.5, observer=observer)
        b.start()
        times = []
        for i in range(5):
            t0 = time.perf_counter()
            with b.arrival() as arrival:
                await arrival.submit(rows(i))
            times.append(time.perf_counter() - t0)
        await b.close()
        return times

    times = run(main())
    assert max(times) < 0.25, times  # max_wait is 0.5 s: no request paid it
    assert set(observer.reasons) == {"idle"}


def test_a_batch_waits_for_announced_requests_and_does_not_close_early() -> None:
    model, observer = Recorder(), Observer()

    async def main() -> float:
        b = MicroBatcher(model, max_batch_rows=8, max_wait_s=1.0, observer=observer)
        b.start()
        arrivals = [b.arrival() for _ in range(8)]  # eight requests are being received
        t0 = time.perf_counter()
        tasks = []
        for i, arrival in enumerate(arrivals):
            tasks.append(asyncio.create_task(arrival.submit(rows(i))))
            await asyncio.sleep(0.03)  # they arrive over ~240 ms
        await asyncio.gather(*tasks)
        await b.close()
        return time.perf_counter() - t0

    elapsed = run(main())
    assert model.batches == [list(range(8))]  # one batch: neither closed early nor split
    assert observer.reasons == ["full"]
    assert elapsed < 0.9


def test_the_wait_is_counted_from_the_oldest_arrival_and_the_timeout_still_batches() -> None:
    model, observer = Recorder(), Observer()

    async def main() -> None:
        b = MicroBatcher(model, max_batch_rows=100, max_wait_s=0.2, observer=observer)
        b.start()
        arrivals = [b.arrival() for _ in range(4)]
        tasks = []
        for i, arrival in enumerate(arrivals[:3]):
            tasks.append(asyncio.create_task(arrival.submit(rows(i))))
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)  # the 4th never comes: the wait elapses
        arrivals[3].__exit__(None, None, None)
        await b.close()

    run(main())
    assert model.batches == [[0, 1, 2]]  # the timeout dispatched them together
    assert observer.reasons == ["wait_elapsed"]
    assert 0.18 <= observer.delays[0] < 0.6  # from the oldest arrival: ~0.2 s, not more


def test_one_bad_request_does_not_fail_its_batch_mates() -> None:
    gate = threading.Event()
    model = Recorder(gate=gate)

    async def main() -> list[Any]:
        b = MicroBatcher(model, max_batch_rows=16, max_wait_s=0.0)
        b.start()
        blocker = asyncio.create_task(b.submit(rows(100)))
        await asyncio.sleep(0.05)
        tasks = [asyncio.create_task(b.submit(rows(i))) for i in (1, -1, 2, 3)]
        await asyncio.sleep(0.01)
        gate.set()
        out = await asyncio.gather(blocker, *tasks, return_exceptions=True)
        await b.close()
        return out

    out = run(main())
    assert isinstance(out[2], ValueError)
    assert [int(o.labels[0]) for o in (out[1], out[3], out[4])] == [10, 20, 30]


def test_a_full_queue_answers_429_with_retry_after_and_recovers() -> None:
    gate = threading.Event()
    model = Recorder(gate=gate)

    async def main() -> tuple[list[Any], Any]:
        b = MicroBatcher(model, max_batch_rows=2, max_wait_s=0.0, max_queue_rows=3)
        b.start()
        tasks = [asyncio.create_task(b.submit(rows(i))) for i in range(6)]
        await asyncio.sleep(0.05)
        gate.set()
        out = await asyncio.gather(*tasks, return_exceptions=True)
        after = await b.submit(rows(7))
        await b.close()
        return out, after

    out, after = run(main())
    refused = [o for o in out if isinstance(o, QueueFullError)]
    assert refused and all(r.status == 429 for r in refused)
    assert all(dict(r.headers)[b"retry-after"].isdigit() for r in refused)
    assert all(isinstance(o, Prediction) for o in out if not isinstance(o, QueueFullError))
    assert int(after.labels[0]) == 70


def test_a_request_that_times_out_leaves_the_queue_and_the_others_are_answered() -> None:
    gate = threading.Event()
    model = Recorder(gate=gate)

    async def main() -> list[Any]:
        b = MicroBatcher(model, max_batch_rows=4, max_wait_s=0.0)
        b.start()
        blocker = asyncio.create_task(b.submit(rows(0)))
        await asyncio.sleep(0.05)
        short = asyncio.create_task(b.submit(rows(1), timeout=0.05))
        normal = asyncio.create_task(b.submit(rows(2)))
        await asyncio.sleep(0.2)
        gate.set()
        out = await asyncio.gather(blocker, short, normal, return_exceptions=True)
        await b.close()
        return out

    out = run(main())
    assert isinstance(out[1], TimeoutError)
    assert int(out[2].labels[0]) == 20
    assert [i for batch in model.batches for i in batch] == [0, 2]  # 1 was never run


@pytest.mark.parametrize("enabled", [False])
def test_batching_off_runs_each_request_alone_in_order(enabled: bool) -> None:
    gate = threading.Event()
    model, observer = Recorder(gate=gate), Observer()

    async def main() -> None:
        b = MicroBatcher(model, enabled=enabled, max_batch_rows=64, observer=observer)
        b.start()
        tasks = [asyncio.create_task(b.submit(rows(i))) for i in range(5)]
        await asyncio.sleep(0.02)
        gate.set()
        await asyncio.gather(*tasks)
        await b.close()

    run(main())
    assert model.batches == [[0], [1], [2], [3], [4]]
    assert set(observer.reasons) == {"unbatched"}
