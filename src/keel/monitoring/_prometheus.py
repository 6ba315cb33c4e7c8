"""Prometheus gauges (``keel_monitor_*``) for the latest window of every monitor.

:class:`MonitorMetrics` is a collector: :meth:`~MonitorMetrics.set_window` swaps in a
monitor's latest window values (the plain mapping of :mod:`keel.monitoring._values`) and
every scrape reads that snapshot, so a scrape never sees half a window and a column that
left the window leaves the exposition. Metric names follow the value paths:

================================================  =====================================
value path                                        gauge (labels)
================================================  =====================================
``rows``                                          ``keel_monitor_window_rows``
(the window's end)                                ``keel_monitor_window_end_timestamp_seconds``
``drift.share_drifted``                           ``keel_monitor_drift_share_drifted``
``drift.dataset_drift``                           ``keel_monitor_drift_dataset_drift``
``drift.drifted_columns`` / ``tested_columns``    ``keel_monitor_drift_drifted_columns`` ...
``drift.columns.<c>.statistic``                   ``keel_monitor_drift_column_statistic`` (column)
``drift.columns.<c>.p_value|score|drifted``       ``keel_monitor_drift_column_p_value`` ...
``prediction_drift.*``                            ``keel_monitor_prediction_drift_*``
``performance.<m>``                               ``keel_monitor_performance`` (metric)
``estimated.<m>``                                 ``keel_monitor_estimated_performance`` (metric)
(alert rules)                                     ``keel_monitor_alert_firing`` (alert, severity)
================================================  =====================================

Every gauge has the labels ``endpoint`` and ``monitor``. Labels stay bounded: at most
``max_columns`` columns per monitor and drift kind are exported (the drifted ones first,
then by name; ``keel_monitor_drift_columns_over_limit`` counts the rest), at most
``max_metrics`` metric names, and alert names come from the monitor's rules.

Example::

    >>> from prometheus_client import CollectorRegistry
    >>> metrics = MonitorMetrics(registry=CollectorRegistry())
    >>> metrics.set_window("churn", "churn-inputs", {"rows": 500, "drift": {...}})
    >>> server = serve_metrics(9108, metrics.registry)   # keel monitor run --serve-metrics
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError, MissingExtraError, show_input
from keel.monitoring._values import COLUMN_FIELDS, DRIFT_FIELDS, DRIFT_SECTIONS

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from keel.monitoring._alerts import AlertRule, AlertState

__all__ = ["MetricsServer", "MonitorMetrics", "monitor_metric_names", "serve_metrics"]

_BASE = ("endpoint", "monitor")

_HELP: dict[str, str] = {
    "keel_monitor_window_rows": "Rows in the monitor's latest window.",
    "keel_monitor_window_end_timestamp_seconds": "End of the monitor's latest window (Unix time).",
    "keel_monitor_performance": "A performance metric measured on labelled rows of the latest "
    "window, by metric.",
    "keel_monitor_estimated_performance": "A performance metric estimated before labels "
    "(confidence-based), by metric.",
    "keel_monitor_alert_firing": "1 while an alert rule of the monitor fires, else 0.",
}
_SECTION_WORDS = {"drift": "input data drift", "prediction_drift": "prediction drift"}
_FIELD_HELP = {
    "share_drifted": "Share of tested columns that drifted ({kind}), latest window.",
    "dataset_drift": "1 when the share of drifted columns reached its threshold ({kind}).",
    "drifted_columns": "Columns that drifted ({kind}), latest window.",
    "tested_columns": "Columns tested ({kind}), latest window.",
    "columns_over_limit": "Columns not exported as labels because of the column limit ({kind}).",
}
_COLUMN_HELP = {
    "statistic": "A column's drift test statistic ({kind}), by column.",
    "p_value": "A column's drift test p-value ({kind}), by column (hypothesis tests only).",
    "score": "What a column's drift threshold is compared with ({kind}), by column.",
    "drifted": "1 when a column drifted ({kind}), by column.",
}
for _section in DRIFT_SECTIONS:
    _kind = _SECTION_WORDS[_section]
    for _field, _text in _FIELD_HELP.items():
        _HELP[f"keel_monitor_{_section}_{_field}"] = _text.format(kind=_kind)
    for _field, _text in _COLUMN_HELP.items():
        _HELP[f"keel_monitor_{_section}_column_{_field}"] = _text.format(kind=_kind)

_LABELS: dict[str, tuple[str, ...]] = {name: _BASE for name in _HELP}
for _section in DRIFT_SECTIONS:
    for _field in COLUMN_FIELDS:
        _LABELS[f"keel_monitor_{_section}_column_{_field}"] = (*_BASE, "column")
_LABELS["keel_monitor_performance"] = (*_BASE, "metric")
_LABELS["keel_monitor_estimated_performance"] = (*_BASE, "metric")
_LABELS["keel_monitor_alert_firing"] = (*_BASE, "alert", "severity")


def monitor_metric_names() -> tuple[str, ...]:
    """Every gauge name :class:`MonitorMetrics` may expose, sorted."""
    return tuple(sorted(_HELP))


@dataclass(frozen=True)
class _Sample:
    name: str
    labels: tuple[str, ...]
    value: float


class MonitorMetrics:
    """``keel_monitor_*`` gauges, set from each monitor's latest window.

    Args:
        registry: a ``prometheus_client.CollectorRegistry`` to expose them on (serving's
            registry, say); a new one when ``None`` (see :attr:`registry`).
        max_columns: the most columns exported per monitor and drift kind.
        max_metrics: the most metric names exported per monitor and section.

    Raises:
        MissingExtraError: prometheus-client is not installed.
        InvalidArgumentError: a limit is not a whole number >= 1.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        max_columns: int = 100,
        max_metrics: int = 50,
    ) -> None:
        for name, limit in (("max_columns", max_columns), ("max_metrics", max_metrics)):
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise InvalidArgumentError(
                    f"{name} must be a whole number >= 1, not {show_input(limit)}"
                )
        prometheus = _prometheus()
        self.max_columns = max_columns
        self.max_metrics = max_metrics
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[_Sample, ...]] = {}
        self._alerts: dict[tuple[str, str], tuple[_Sample, ...]] = {}
        self.registry: CollectorRegistry = (
            registry if registry is not None else prometheus.CollectorRegistry()
        )
        self.registry.register(self)

    # -- setting values ------------------------------------------------------------

    def set_window(
        self,
        endpoint: str,
        monitor: str,
        values: Mapping[str, Any],
        *,
        window_end: datetime | None = None,
    ) -> None:
        """Replace a monitor's gauges with the values of its latest window.

        Args:
            endpoint: the endpoint the monitor watches.
            monitor: the monitor's name.
            values: the window's values (see :mod:`keel.monitoring._values`); parts it
                lacks (no labels yet) are not exported.
            window_end: the window's end, exported as a Unix timestamp.

        Raises:
            TypeError: a value that should be a number is not.
        """
        base = (str(endpoint), str(monitor))
        samples: list[_Sample] = []

        def add(name: str, value: Any, *extra: str) -> None:
            number = _number(value, name)
            if number is not None:
                samples.append(_Sample(name, (*base, *extra), number))

        add("keel_monitor_window_rows", values.get("rows"))
        if window_end is not None:
            add("keel_monitor_window_end_timestamp_seconds", window_end.timestamp())
        for section in DRIFT_SECTIONS:
            part = values.get(section)
            if isinstance(part, Mapping):
                samples.extend(self._drift(section, part, base))
        for section, name in (
            ("performance", "keel_monitor_performance"),
            ("estimated", "keel_monitor_estimated_performance"),
        ):
            part = values.get(section)
            if isinstance(part, Mapping):
                for metric in sorted(map(str, part))[: self.max_metrics]:
                    add(name, part[metric], metric)
        with self._lock:
            self._windows[base] = tuple(samples)

    def _drift(
        self, section: str, part: Mapping[str, Any], base: tuple[str, str]
    ) -> Iterator[_Sample]:
        for field in DRIFT_FIELDS:
            number = _number(part.get(field), f"{section}.{field}")
            if number is not None:
                yield _Sample(f"keel_monitor_{section}_{field}", base, number)
        columns = part.get("columns")
        if not isinstance(columns, Mapping):
            return
        # the drifted columns first: they are the ones a dashboard must show
        order = sorted(
            columns,
            key=lambda c: (not _is_drifted(columns[c]), str(c)),
        )
        kept = order[: self.max_columns]
        yield _Sample(
            f"keel_monitor_{section}_columns_over_limit", base, float(len(order) - len(kept))
        )
        for column in kept:
            stats = columns[column]
            if not isinstance(stats, Mapping):
                raise TypeError(f"window values: {section}.columns.{column} must be a mapping")
            for field in COLUMN_FIELDS:
                number = _number(stats.get(field), f"{section}.columns.{column}.{field}")
                if number is not None:
                    name = f"keel_monitor_{section}_column_{field}"
                    yield _Sample(name, (*base, str(column)), number)

    def set_alerts(
        self,
        endpoint: str,
        monitor: str,
        rules: Iterable[AlertRule],
        states: Mapping[str, AlertState],
    ) -> None:
        """Set ``keel_monitor_alert_firing`` for each of a monitor's rules (1 firing, 0 not).

        Args:
            endpoint: the endpoint the monitor watches.
            monitor: the monitor's name.
            rules: the monitor's alert rules (a removed rule's series goes).
            states: :attr:`AlertEvaluation.states` of the latest evaluation.
        """
        base = (str(endpoint), str(monitor))
        samples = []
        for rule in rules:
            state = states.get(rule.name)
            firing = 1.0 if state is not None and state.firing else 0.0
            samples.append(
                _Sample("keel_monitor_alert_firing", (*base, rule.name, rule.severity), firing)
            )
        with self._lock:
            self._alerts[base] = tuple(samples)

    def remove(self, endpoint: str, monitor: str) -> None:
        """Drop every series of a monitor (it was deleted)."""
        with self._lock:
            self._windows.pop((endpoint, monitor), None)
            self._alerts.pop((endpoint, monitor), None)

    def exposition(self) -> tuple[bytes, str]:
        """The registry's text exposition and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # -- the collector interface -----------------------------------------------------

    def describe(self) -> list[Metric]:
        """The families this collector owns (so a registry refuses a second owner)."""
        return list(self._families([]))

    def collect(self) -> list[Metric]:
        """Gauge families from the current snapshot (called by each scrape)."""
        with self._lock:
            samples = [s for group in self._windows.values() for s in group]
            samples.extend(s for group in self._alerts.values() for s in group)
        return list(self._families(samples))

    def _families(self, samples: list[_Sample]) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        by_name: dict[str, list[_Sample]] = {}
        for sample in samples:
            by_name.setdefault(sample.name, []).append(sample)
        for name in sorted(_HELP):
            family = GaugeMetricFamily(name, _HELP[name], labels=list(_LABELS[name]))
            for sample in by_name.get(name, ()):
                family.add_metric(list(sample.labels), sample.value)
            yield family


def _is_drifted(stats: Any) -> bool:
    return isinstance(stats, Mapping) and bool(stats.get("drifted"))


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"window values: {name} must be a number, not {value!r}") from None
    # NaN means "no value" here as in alert rules; infinities are valid gauge values
    return None if math.isnan(number) else number


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ModuleNotFoundError:
        raise MissingExtraError.for_extra("prometheus_client", "monitoring") from None
    return prometheus_client


class MetricsServer:
    """A running ``/metrics`` HTTP server (see :func:`serve_metrics`).

    Attributes:
        host: the address it listens on.
        port: the port it listens on (the real one when 0 was asked for).
        url: ``http://host:port/metrics``.
    """

    def __init__(self, server: Any, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = int(server.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MetricsServer({self.url!r})"


def serve_metrics(
    port: int, registry: CollectorRegistry, *, host: str = "127.0.0.1"
) -> MetricsServer:
    """Serve ``registry`` in Prometheus text format on ``http://host:port/metrics``.

    For ``keel monitor run --serve-metrics PORT``: a daemon thread answers scrapes
    while the monitor loop runs; :meth:`MetricsServer.close` stops it.

    Args:
        port: the TCP port (0: any free one; :attr:`MetricsServer.port` tells which).
        registry: what to expose (:attr:`MonitorMetrics.registry`).
        host: the address to bind; ``127.0.0.1`` by default, ``0.0.0.0`` to be
            reachable from other machines (a Prometheus server elsewhere).

    Raises:
        InvalidArgumentError: the port is out of range or already in use.
        MissingExtraError: prometheus-client is not installed.

    Example::

        >>> server = serve_metrics(9108, metrics.registry)
        >>> server.url
        'http://127.0.0.1:9108/metrics'
    """
    prometheus = _prometheus()
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise InvalidArgumentError(
            f"metrics port must be a whole number from 0 to 65535, not {show_input(port)}"
        )
    try:
        server, thread = prometheus.start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); "
            "pick a free port (--serve-metrics PORT)"
        ) from None
    thread.name = f"keel-metrics {host}:{server.server_address[1]}"
    return MetricsServer(server, thread, host)
