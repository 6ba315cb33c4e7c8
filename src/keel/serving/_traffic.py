"""Traffic between an endpoint's targets: weighted (optionally sticky) choice, the shadow
(mirrored after the answer, compared, logged) and retiring a replaced model.

A target holds the model it serves now; the alias watcher replaces it with a newly
loaded and warmed version in one assignment, so a request sees either the old model or
the new one, never neither. Requests that already chose the old model finish on it:
it is retired only when its queue is empty and nobody is on the way to it.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.serving._errors import RequestError
from keel.serving._models import ServedModel
from keel.serving._spec import EndpointSpec

if TYPE_CHECKING:
    from keel.serving._metrics import ServingMetrics
    from keel.serving._predlog import LogRecord, PredictionLog

__all__ = ["ServedEndpoint", "Target", "agreement", "mirror", "retire"]

logger = logging.getLogger("keel.serving")


@dataclass(eq=False)
class Target:
    """One of an endpoint's models: its reference and the version serving it now."""

    ref: str
    weight: float
    model: ServedModel

    @property
    def follows_alias(self) -> bool:
        """Whether the reference names an alias (and so may move)."""
        return "@" in self.ref


@dataclass(eq=False)
class ServedEndpoint:
    """An endpoint while it is served: its spec, targets and shadow."""

    spec: EndpointSpec
    targets: list[Target]
    shadow: Target | None = None
    _cumulative: list[float] = field(default_factory=list)
    _total: float = 0.0
    next_poll: float = 0.0

    def __post_init__(self) -> None:
        total = 0.0
        for t in self.targets:
            total += t.weight
            self._cumulative.append(total)
        self._total = total

    @property
    def name(self) -> str:
        """The endpoint's name."""
        return self.spec.name

    def choose(self, sticky: bytes | None = None) -> Target:
        """A target by weight; the same ``sticky`` value always gets the same target."""
        if len(self.targets) == 1:
            return self.targets[0]
        if sticky:
            point = zlib.crc32(sticky) / 4294967296.0 * self._total
        else:
            point = random.random() * self._total  # noqa: S311 - traffic split, not security
        i = bisect.bisect_right(self._cumulative, point)
        return self.targets[min(i, len(self.targets) - 1)]

    def every_target(self) -> list[Target]:
        """The targets and the shadow."""
        return [*self.targets, *([self.shadow] if self.shadow else [])]

    def by_version(self, number: str) -> Target | None:
        """The target serving version ``number`` (OIP's ``/versions/{v}``), if any."""
        for t in self.targets:
            if str(t.model.version.version) == number:
                return t
        return None


def agreement(served: Any, shadow: Any) -> float:
    """The share of rows on which the shadow's output equals the served one."""
    import numpy as np

    a, b = np.asarray(served.labels), np.asarray(shadow.labels)
    if a.shape != b.shape or a.size == 0:
        return 0.0
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        same = np.isclose(a, b, rtol=1e-9, atol=1e-12)
    else:
        same = a.astype(str) == b.astype(str)
    return float(np.mean(same))


async def retire(model: ServedModel, timeout: float = 60.0) -> None:
    """Stop a replaced model once it has answered everyone who chose it."""
    batcher = model.batcher
    if batcher is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not batcher.idle and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await batcher.close()


def mirror(
    endpoint: ServedEndpoint,
    shadow: Target,
    batch: Any,
    prediction: Any,
    record: LogRecord,
    log: PredictionLog,
    metrics: ServingMetrics,
    background: set[asyncio.Task[Any]],
) -> None:
    """Send a copy of an answered request to the shadow, in the background; its outcome
    completes ``record``, which is logged when the shadow finishes (or is dropped,
    counted, when ``shadow.max_in_flight`` background tasks are running)."""
    assert endpoint.spec.shadow is not None
    served = shadow.model
    record.shadow_version = served.uri
    if len(background) >= endpoint.spec.shadow.max_in_flight:
        record.shadow_error = "dropped: too many shadow requests in flight"
        metrics.shadow.labels(endpoint.name, served.uri, "dropped").inc()
        log.append(record)
        return
    task = asyncio.get_running_loop().create_task(
        _shadow(endpoint, served, batch, prediction, record, log, metrics)
    )
    background.add(task)
    task.add_done_callback(background.discard)


async def _shadow(
    endpoint: ServedEndpoint,
    served: ServedModel,
    batch: Any,
    prediction: Any,
    record: LogRecord,
    log: PredictionLog,
    metrics: ServingMetrics,
) -> None:
    started = time.perf_counter()
    outcome = "error"
    try:
        assert served.batcher is not None
        result = await served.batcher.submit(batch, False, timeout=endpoint.spec.limits.timeout_s)
        record.shadow_prediction = result
        record.shadow_agreement = agreement(prediction, result)
        outcome = "agree" if record.shadow_agreement == 1.0 else "disagree"
    except asyncio.CancelledError:
        record.shadow_error = "cancelled: the server stopped first"
    except TimeoutError:
        record.shadow_error = f"timed out after {endpoint.spec.limits.timeout_s} s"
    except RequestError as exc:
        record.shadow_error = exc.message[:300]
        outcome = "dropped" if exc.status == 429 else "error"
    except Exception as exc:
        record.shadow_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        record.shadow_latency_ms = (time.perf_counter() - started) * 1000.0
        metrics.shadow.labels(endpoint.name, served.uri, outcome).inc()
        log.append(record)
