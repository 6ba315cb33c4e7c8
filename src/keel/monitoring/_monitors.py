"""Monitors as a service: create, read, run (incrementally), and run every so often.

Every function takes ``context=`` and reaches storage only through the Store and
ArtifactStore interfaces, so monitors work the same on SQLite, PostgreSQL and a keel
server.

Example::

    >>> from keel.monitoring import create_monitor, run_monitor
    >>> create_monitor("iris-watch", endpoint="iris", spec={"window": {"every": "1h"}})
    >>> run_monitor("iris-watch").summary()
    'monitor iris-watch: 12 result(s) in 3 window(s); drift in 1 window(s)'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from keel.errors import NotFoundError

if TYPE_CHECKING:
    from keel.context import Context
    from keel.monitoring._monitor_spec import MonitorSpec
    from keel.monitoring._run import MonitorRun
    from keel.store import Monitor, MonitorAlert, MonitorResult

__all__ = [
    "create_monitor",
    "delete_monitor",
    "get_monitor",
    "list_monitors",
    "monitor_alerts",
    "monitor_results",
    "run_monitor",
    "run_monitor_every",
]

logger = logging.getLogger("keel.monitoring")


def _ctx(context: Context | None) -> Context:
    if context is not None:
        return context
    from keel.context import current_context

    return current_context()


def create_monitor(
    name: str,
    endpoint: str,
    spec: Mapping[str, Any] | MonitorSpec,
    *,
    replace: bool = False,
    reason: str | None = None,
    context: Context | None = None,
) -> Monitor:
    """Store a monitor of a stored endpoint (audited), or replace one with ``replace=True``.

    Args:
        name: the monitor's name.
        endpoint: the stored endpoint it watches (``keel endpoints list``).
        spec: window, checks, reference, lateness and alert rules
            (:class:`~keel.monitoring.MonitorSpec`, or the same as a mapping).
        replace: update the monitor of that name if it exists.
        reason: why (recorded in the audit log).
        context: where (:func:`keel.context.current_context` by default).

    Raises:
        MonitorSpecError: the spec or an alert rule is malformed.
        NotFoundError: the endpoint does not exist.
        ConflictError: a monitor of that name exists (and ``replace`` is false).

    Example::

        >>> create_monitor("iris-watch", "iris", {"window": {"rows": 500},
        ...     "alerts": [{"name": "drift", "value": "drift.share_drifted",
        ...                 "operator": ">=", "threshold": 0.5, "action": "rollback"}]})
    """
    from keel.monitoring._monitor_spec import parse_monitor_spec

    ctx = _ctx(context)
    data = parse_monitor_spec(spec).to_data()
    ctx.store.endpoints.get_endpoint(endpoint)  # NotFoundError naming the endpoints there are
    store = ctx.store.monitors
    if replace:
        try:
            current = store.get_monitor(name)
        except NotFoundError:
            current = None
        if current is not None:
            return store.update_monitor(
                name, endpoint, data, current.revision, ctx.actor, reason=reason
            )
    return store.create_monitor(name, endpoint, data, ctx.actor, reason=reason)


def get_monitor(name: str, *, context: Context | None = None) -> Monitor:
    """The stored monitor called ``name`` (``NotFoundError`` lists those that exist)."""
    return _ctx(context).store.monitors.get_monitor(name)


def list_monitors(endpoint: str | None = None, *, context: Context | None = None) -> list[Monitor]:
    """Every monitor of the project (of one endpoint when given), by name."""
    return _ctx(context).store.monitors.list_monitors(endpoint)


def delete_monitor(name: str, *, reason: str | None = None, context: Context | None = None) -> None:
    """Delete a monitor (audited); its results and alerts stay."""
    ctx = _ctx(context)
    current = ctx.store.monitors.get_monitor(name)
    ctx.store.monitors.delete_monitor(name, current.revision, ctx.actor, reason=reason)


def monitor_results(
    name: str, check: str | None = None, *, context: Context | None = None
) -> list[MonitorResult]:
    """A monitor's stored results, by window (of one check when given)."""
    return _ctx(context).store.monitors.list_results(name, check)


def monitor_alerts(
    name: str, active_only: bool = False, *, context: Context | None = None
) -> list[MonitorAlert]:
    """A monitor's alerts, oldest first (only those still firing with ``active_only``)."""
    return _ctx(context).store.monitors.list_alerts(name, active_only)


def run_monitor(
    name: str,
    *,
    now_ms: int | None = None,
    sinks: Any = None,
    metrics: Any = None,
    context: Context | None = None,
) -> MonitorRun:
    """Compute the windows the monitor has not computed yet, store them, evaluate its alerts.

    Incremental and idempotent: a window's check is computed once; running again
    computes only what is new (a window that completed since, a window whose labels are
    now all in). Alerts that fire are stored once and delivered to the sinks once; an
    alert with ``action: rollback`` rolls the endpoint's alias back, at most once.

    Args:
        name: the monitor.
        now_ms: the time to run at (ms since the epoch; default now).
        sinks: where alerts go: objects with ``deliver(event)`` such as
            :class:`~keel.monitoring.WebhookSink` (default: the spec's ``sinks``, opened
            for this run and closed after it; the log when it names none).
        metrics: a :class:`~keel.monitoring.MonitorMetrics` to set the gauges of the
            latest window and the alert rules on.
        context: where (:func:`keel.context.current_context` by default).

    Returns:
        A :class:`MonitorRun` (results stored, windows waiting for labels, alerts).

    Raises:
        NotFoundError: no such monitor.
        MonitorReferenceError: the reference cannot be found (nothing is stored).

    Example::

        >>> run = run_monitor("iris-watch")
        >>> [(r.window, r.check, r.status) for r in run.computed][:2]
        [('rows:0-500', 'data_drift', 'ok'), ('rows:0-500', 'prediction_drift', 'ok')]
    """
    from keel._clock import now_ms as clock
    from keel.monitoring._alerting import evaluate_and_act
    from keel.monitoring._monitor_spec import open_sinks, parse_monitor_spec
    from keel.monitoring._run import compute_windows

    ctx = _ctx(context)
    monitor = ctx.store.monitors.get_monitor(name)
    spec = parse_monitor_spec(monitor.spec)
    now = clock() if now_ms is None else now_ms
    actor = ctx.actor
    opened = open_sinks(spec) if sinks is None else None  # an unset ${NAME} fails here, first

    def store(results: list[MonitorResult]) -> list[MonitorResult]:
        return ctx.store.monitors.record_results(name, results, actor)

    try:
        run = compute_windows(ctx, monitor, spec, now, store)
        evaluate_and_act(ctx, monitor, spec, run, opened if sinks is None else sinks, metrics)
    finally:
        for sink in opened or ():
            sink.close(10)
    return run


def run_monitor_every(
    name: str,
    interval_s: float,
    *,
    stop: threading.Event | None = None,
    on_run: Callable[[MonitorRun], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    sinks: Any = None,
    metrics: Any = None,
    context: Context | None = None,
) -> None:
    """Run the monitor now and then every ``interval_s`` seconds until ``stop`` is set.

    A failed run is reported (``on_error``, else logged) and the loop goes on: the next
    run computes what this one could not.
    """
    from keel.errors import KeelError

    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        try:
            run = run_monitor(name, sinks=sinks, metrics=metrics, context=context)
            if on_run is not None:
                on_run(run)
        except (KeelError, OSError) as exc:
            if on_error is not None:
                on_error(exc)
            else:
                logger.error("monitor %s: run failed: %s", name, exc)
        stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
