"""A stored monitor's report: its results and alerts as :class:`MonitorReportData`.

``keel monitor report NAME --output report.html`` draws the page from what the store
holds (nothing is recomputed): per window the drift reports of its inputs and outputs,
the measured performance and CBPE's estimate beside it; the alerts as they fired and
resolved.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.context import Context
    from keel.monitoring._monitor_report import MonitorReportData, ReportAlert, ReportWindow
    from keel.store import MonitorAlert, MonitorResult

__all__ = ["monitor_report_data"]

#: counts kept with the performance values, not metrics
_COUNTS = ("labelled_rows", "labelled_share", "invalid_labels", "late_labels")


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _span(results: list[MonitorResult]) -> tuple[dt.datetime, dt.datetime] | None:
    first = results[0]
    if first.window.startswith("time:"):
        return _time(first.start), _time(first.end)
    logged: list[Any] = [r.details["logged"] for r in results if r.details.get("logged")]
    if not logged:
        return None
    lo = min(int(t[0]) for t in logged)
    hi = max(int(t[1]) for t in logged)
    return _time(lo), _time(hi + 1)


def _drift(result: MonitorResult | None) -> Any:
    from keel.monitoring._report import DriftReport

    if result is None or result.status not in ("ok", "drift"):
        return None
    try:
        return DriftReport.from_dict(result.details)
    except (KeyError, TypeError, ValueError):
        return None


def _finite(values: Any, drop: tuple[str, ...] = ()) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in values.items()
        if k not in drop and isinstance(v, (int, float)) and math.isfinite(v)
    }


def _window(results: list[MonitorResult]) -> ReportWindow | None:
    from keel.monitoring._monitor_report import ReportWindow

    span = _span(results)
    if span is None:
        return None
    by = {r.check: r for r in results}
    performance = by.get("performance")
    estimated = by.get("estimated_performance")
    rows = max(
        (r.rows for r in results if r.check in ("data_drift", "prediction_drift")), default=0
    )
    share = None
    if performance is not None and "labelled_share" in performance.values:
        value = performance.values["labelled_share"]
        share = value if math.isfinite(value) else None
    return ReportWindow.from_drift_report(
        span[0],
        span[1],
        _drift(by.get("data_drift")),
        rows=rows,
        prediction_report=_drift(by.get("prediction_drift")),
        performance=_finite(performance.values, _COUNTS)
        if performance is not None and performance.status == "ok"
        else None,
        estimated=_finite(estimated.values)
        if estimated is not None and estimated.status == "ok"
        else None,
        labelled_share=share,
    )


def _alerts(alerts: list[MonitorAlert], rules: dict[str, Any]) -> list[ReportAlert]:
    from keel.monitoring._monitor_report import ReportAlert

    out = []
    for a in alerts:
        rule = rules.get(a.rule)
        common: dict[str, Any] = {
            "alert_id": a.id,
            "rule": a.rule,
            "severity": a.severity,
            "value_path": a.metric,
            "operator": rule.operator if rule is not None else "?",
            "threshold": rule.threshold if rule is not None else math.nan,
            "since": a.window,
            "action": a.action,
        }
        out.append(
            ReportAlert(
                **common,
                status="firing",
                value=a.value,
                window=a.window,
                message=a.message,
                window_start=_time(a.fired_at),
            )
        )
        if a.resolved_at is not None:
            out.append(
                ReportAlert(
                    **common,
                    status="resolved",
                    value=math.nan,
                    window=a.resolved_window or "",
                    message=f"alert {a.rule} resolved at window {a.resolved_window}",
                    window_start=_time(a.resolved_at),
                )
            )
    return out


def monitor_report_data(name: str, *, context: Context | None = None) -> MonitorReportData:
    """The report of monitor ``name`` from its stored results and alerts.

    Example::

        >>> write_monitor_report(monitor_report_data("iris-watch"), "iris-watch.html")
    """
    from keel.monitoring._alerts import parse_alert_rules
    from keel.monitoring._monitor_report import MonitorReportData
    from keel.monitoring._monitor_spec import parse_monitor_spec

    if context is None:
        from keel.context import current_context

        context = current_context()
    store = context.store.monitors
    monitor = store.get_monitor(name)
    spec = parse_monitor_spec(monitor.spec)
    rules = parse_alert_rules(spec.alerts)
    results = store.list_results(name)
    grouped: dict[str, list[MonitorResult]] = {}
    for r in results:
        grouped.setdefault(r.window, []).append(r)
    windows = []
    for items in sorted(grouped.values(), key=lambda rs: (rs[0].start, rs[0].end)):
        window = _window(items)
        if window is not None:
            windows.append(window)
    windows.sort(key=lambda w: w.start)
    alerts = store.list_alerts(name)
    references = [r.reference for r in results if r.check == "data_drift" and r.reference]
    return MonitorReportData(
        monitor=name,
        endpoint=monitor.endpoint,
        reference=references[-1] if references else None,
        drift_share_threshold=spec.drift_share,
        windows=windows,
        alerts=_alerts(alerts, {r.name: r for r in rules}),
        rules=MonitorReportData.describe_rules(list(rules)),
        firing=[a.id for a in alerts if a.active],
    )
