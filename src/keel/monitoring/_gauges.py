"""``keel_monitor_*`` gauges of stored monitors, on a serving app's ``/metrics``.

``keel monitor run --serve-metrics`` sets the gauges as it computes windows; a serving
process computes nothing, so :class:`StoredMonitorGauges` reads the latest stored
window of each monitor of the endpoints it serves, and the alerts still firing, at most
every ``refresh_s`` seconds, when a scrape asks. ``keel serve`` registers one on its
registry (one worker: with ``--workers N`` the exposition is aggregated from the
workers' files, which these gauges do not write; scrape ``keel monitor run
--serve-metrics`` instead).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["StoredMonitorGauges"]

logger = logging.getLogger("keel.monitoring")


class StoredMonitorGauges:
    """A Prometheus collector of the stored monitors of some endpoints.

    Args:
        endpoints: a function giving the endpoint names whose monitors are exported
            (read at each refresh, so endpoints loaded after start-up count).
        context: where the monitors are stored (:func:`keel.context.current_context`).
        refresh_s: the longest the exported values may lag behind the store.

    Example::

        >>> app.metrics.registry.register(StoredMonitorGauges(lambda: list(app.endpoints)))
    """

    def __init__(
        self,
        endpoints: Callable[[], Iterable[str]],
        *,
        context: Context | None = None,
        refresh_s: float = 15.0,
    ) -> None:
        from keel.monitoring._prometheus import MonitorMetrics

        self._endpoints = endpoints
        self._context = context
        self.refresh_s = refresh_s
        self.metrics = MonitorMetrics()
        self._lock = threading.Lock()
        self._last = -float("inf")

    def refresh(self) -> None:
        """Read the latest stored window and the firing alerts of each monitor."""
        from keel.monitoring._alerting import monitor_windows
        from keel.monitoring._alerts import AlertState, parse_alert_rules

        context = self._context
        if context is None:
            from keel.context import current_context

            context = current_context()
        store = context.store.monitors
        for endpoint in sorted(set(self._endpoints())):
            for monitor in store.list_monitors(endpoint):
                windows = monitor_windows(store.list_results(monitor.name))
                if windows:
                    latest = windows[-1]
                    self.metrics.set_window(
                        endpoint, monitor.name, latest.values, window_end=latest.end
                    )
                rules = parse_alert_rules(monitor.spec.get("alerts") or ())
                firing = {a.rule for a in store.list_alerts(monitor.name, active_only=True)}
                states = {
                    r.name: AlertState(r.name, r.fingerprint, firing=r.name in firing)
                    for r in rules
                }
                self.metrics.set_alerts(endpoint, monitor.name, rules, states)

    def describe(self) -> list[Any]:
        """Nothing up front: registering does not read the store."""
        return []

    def collect(self) -> list[Any]:
        """The gauges, refreshed first when older than ``refresh_s``."""
        with self._lock:
            if time.monotonic() - self._last >= self.refresh_s:
                try:
                    self.refresh()
                except Exception as exc:  # a scrape still answers with what it had
                    logger.warning("keel_monitor_* gauges not refreshed: %s", exc)
                self._last = time.monotonic()
        return self.metrics.collect()
