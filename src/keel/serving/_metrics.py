"""Prometheus metrics of one serving app, in a registry of its own (no global state).

Names follow Prometheus conventions: the ``keel_`` prefix, base units (``_seconds``,
``_rows``), ``_total`` for counters. Labels are bounded: endpoint names and model
versions come from the served specs, routes are templates (``/v2/models/{model}/infer``,
never a raw path), unknown paths share the route ``other``, status is a class (``2xx``).

With several uvicorn workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``keel serve
--workers N``) makes every worker write its values to files there and ``/metrics``
aggregates all workers.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["ServingMetrics"]

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
_DELAY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class ServingMetrics:
    """Every metric the serving app exposes."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "keel_requests",
            "Requests answered, by endpoint, route template, model version and status class.",
            ["endpoint", "route", "model_version", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "keel_request_duration_seconds",
            "Time from receiving a request to its answer, by endpoint and route template.",
            ["endpoint", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "keel_batch_size_rows",
            "Rows per batch sent to a model.",
            ["endpoint", "model_version"],
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.batch_requests = Histogram(
            "keel_batch_size_requests",
            "Requests per batch sent to a model.",
            ["endpoint", "model_version"],
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.batch_dispatch = Counter(
            "keel_batch_dispatches",
            "Batches sent to a model, by why the batch was closed "
            "(full, wait_elapsed, idle, unbatched).",
            ["endpoint", "model_version", "reason"],
            registry=r,
        )
        self.queue_delay = Histogram(
            "keel_batch_oldest_queue_delay_seconds",
            "How long the oldest request of each batch waited in the queue.",
            ["endpoint", "model_version"],
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "keel_queue_depth_rows",
            "Rows waiting in a model's queue.",
            ["endpoint", "model_version"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.log_dropped = Counter(
            "keel_prediction_log_dropped",
            "Prediction-log records dropped because the log's queue was full.",
            ["endpoint"],
            registry=r,
        )
        self.log_written = Counter(
            "keel_prediction_log_records",
            "Prediction-log records written to Parquet.",
            ["endpoint"],
            registry=r,
        )
        self.shadow = Counter(
            "keel_shadow_requests",
            "Requests mirrored to a shadow model, by outcome (agree, disagree, error, dropped).",
            ["endpoint", "model_version", "outcome"],
            registry=r,
        )
        self.switches = Counter(
            "keel_model_switches",
            "Times a target switched to another model version (an alias moved).",
            ["endpoint"],
            registry=r,
        )
        self.model_info = Gauge(
            "keel_model_info",
            "1 for each model version a target serves now, with the runtime running it.",
            ["endpoint", "model_version", "runtime"],
            registry=r,
            multiprocess_mode="max",
        )

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class BatchMetrics:
    """The batcher's observer for one served model."""

    def __init__(self, metrics: ServingMetrics, endpoint: str, model_version: str) -> None:
        self._rows = metrics.batch_rows.labels(endpoint, model_version)
        self._requests = metrics.batch_requests.labels(endpoint, model_version)
        self._delay = metrics.queue_delay.labels(endpoint, model_version)
        self._depth = metrics.queue_depth.labels(endpoint, model_version)
        self._dispatch: Any = metrics.batch_dispatch
        self._labels = (endpoint, model_version)
        self._reasons: dict[str, Any] = {}

    def batch_dispatched(
        self, rows: int, requests: int, reason: str, oldest_delay_s: float
    ) -> None:
        counter = self._reasons.get(reason)
        if counter is None:
            counter = self._reasons[reason] = self._dispatch.labels(*self._labels, reason)
        counter.inc()
        self._rows.observe(rows)
        self._requests.observe(requests)
        self._delay.observe(oldest_delay_s)

    def queue_depth(self, rows: int) -> None:
        self._depth.set(rows)
