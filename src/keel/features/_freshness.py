"""How fresh the online store is, as Prometheus gauges read from the views' watermarks at
scrape time (``pip install 'keel[serving]'`` for prometheus-client).

* ``keel_feature_freshness_seconds{project,view}``: now minus the newest value
  materialized (the watermark): how old the freshest online value of the view is;
* ``keel_feature_source_lag_seconds{project,view}``: how far the last materialization
  stopped short of the newest row in the source (0 when it read everything);
* ``keel_feature_materialized_timestamp_seconds{project,view}``: when it ran.

Gauges are computed when scraped, so they keep rising while materialization is not
running: an alert on ``keel_feature_freshness_seconds`` catches a stopped job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from keel.errors import MissingExtraError
from keel.features._online import OnlineStore, OnlineStoreUnavailableError

__all__ = ["FreshnessCollector", "register_freshness_metrics"]


class FreshnessCollector:
    """A Prometheus collector of the freshness of ``views`` in ``online``.

    Args:
        online: the online store.
        project: the project.
        views: the views to report.
        clock: seconds since the epoch (for tests).
    """

    def __init__(
        self,
        online: OnlineStore,
        project: str,
        views: Sequence[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.online = online
        self.project = project
        self.views = tuple(views)
        self._clock = clock

    def describe(self) -> list[Any]:
        """No description up front: scraping must not need the store at registration."""
        return []

    def collect(self) -> Iterator[Any]:
        """The gauges, one sample per view with a watermark (none if the store is down)."""
        from prometheus_client.core import GaugeMetricFamily

        labels = ["project", "view"]
        freshness = GaugeMetricFamily(
            "keel_feature_freshness_seconds",
            "Seconds since the newest value materialized into the online store, by view.",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "keel_feature_source_lag_seconds",
            "How far the last materialization stopped short of the newest source row, in seconds.",
            labels=labels,
        )
        ran = GaugeMetricFamily(
            "keel_feature_materialized_timestamp_seconds",
            "When the view was last materialized (seconds since the epoch).",
            labels=labels,
        )
        up = GaugeMetricFamily(
            "keel_feature_online_store_up",
            "1 if the online store answered the last scrape, else 0.",
            labels=["project"],
        )
        now = self._clock()
        reachable = 1.0
        for view in self.views:
            try:
                mark = self.online.watermark(self.project, view)
            except OnlineStoreUnavailableError:
                reachable = 0.0
                break
            if mark is None:
                continue
            values = [self.project, view]
            freshness.add_metric(values, max(0.0, now - mark.event_us / 1e6))
            lag.add_metric(values, max(0.0, (mark.source_event_us - mark.event_us) / 1e6))
            ran.add_metric(values, mark.materialized_us / 1e6)
        up.add_metric([self.project], reachable)
        yield from (freshness, lag, ran, up)


def register_freshness_metrics(
    registry: Any, online: OnlineStore, project: str, views: Sequence[str]
) -> FreshnessCollector:
    """Add the freshness gauges of ``views`` to a prometheus-client ``registry``.

    Example::

        >>> from prometheus_client import CollectorRegistry, generate_latest
        >>> registry = CollectorRegistry()
        >>> register_freshness_metrics(registry, store, "default", ["driver_stats"])
        >>> b"keel_feature_freshness_seconds" in generate_latest(registry)
        True

    Raises:
        MissingExtraError: prometheus-client is not installed.
    """
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise MissingExtraError.for_extra("prometheus_client", "serving") from None
    collector = FreshnessCollector(online, project, views)
    registry.register(collector)
    return collector
