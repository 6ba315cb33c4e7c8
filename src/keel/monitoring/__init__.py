"""Monitoring: data drift between two tables, and monitors over a live endpoint.

Monitors watch an endpoint's prediction log in windows (data drift of the inputs,
prediction drift of the outputs, performance once labels arrive and CBPE's estimate
before), store their results, fire alerts and may roll the endpoint's alias back::

    >>> from keel.monitoring import create_monitor, run_monitor
    >>> create_monitor("iris-watch", "iris", {"window": {"rows": 500}})
    >>> run_monitor("iris-watch").summary()

Compare two tables (dataset references, files, DataFrames, Arrow tables) column by
column, with Evidently's default tests, or compare a stored reference sketch with a
fresh window::

    >>> from keel.monitoring import drift, ReferenceSketch
    >>> report = drift("iris/1", "iris_today.parquet")
    >>> report.dataset_drift, report.drifted_columns
    (False, ())
    >>> sketch = ReferenceSketch.from_table("iris/1")
    >>> drift(sketch, "iris_today.parquet").to_json()

Everything is imported on first use, so ``import keel.monitoring`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.monitoring._alerts import (
        AlertEvaluation as AlertEvaluation,
        AlertEvent as AlertEvent,
        AlertRule as AlertRule,
        AlertRuleError as AlertRuleError,
        AlertState as AlertState,
        AlertWindow as AlertWindow,
        evaluate_alerts as evaluate_alerts,
        parse_alert_rules as parse_alert_rules,
    )
    from keel.monitoring._cbpe import Calibration as Calibration
    from keel.monitoring._drift import drift as drift
    from keel.monitoring._errors import (
        DriftInputError as DriftInputError,
        LabelError as LabelError,
        MonitorReferenceError as MonitorReferenceError,
        SketchFormatError as SketchFormatError,
    )
    from keel.monitoring._html import write_html_report as write_html_report
    from keel.monitoring._methods import (
        TESTS as TESTS,
        DriftTest as DriftTest,
    )
    from keel.monitoring._monitor_report import (
        MonitorReportData as MonitorReportData,
        ReportAlert as ReportAlert,
        ReportColumn as ReportColumn,
        ReportDistribution as ReportDistribution,
        ReportWindow as ReportWindow,
        render_monitor_report as render_monitor_report,
        write_monitor_report as write_monitor_report,
    )
    from keel.monitoring._monitor_spec import (
        MonitorSpec as MonitorSpec,
        MonitorSpecError as MonitorSpecError,
        ReferenceSpec as ReferenceSpec,
        WindowSpec as WindowSpec,
        parse_monitor_spec as parse_monitor_spec,
    )
    from keel.monitoring._monitors import (
        create_monitor as create_monitor,
        delete_monitor as delete_monitor,
        get_monitor as get_monitor,
        list_monitors as list_monitors,
        monitor_alerts as monitor_alerts,
        monitor_results as monitor_results,
        run_monitor as run_monitor,
        run_monitor_every as run_monitor_every,
    )
    from keel.monitoring._prometheus import (
        MetricsServer as MetricsServer,
        MonitorMetrics as MonitorMetrics,
        serve_metrics as serve_metrics,
    )
    from keel.monitoring._report import (
        CategoryChange as CategoryChange,
        ColumnDistribution as ColumnDistribution,
        ColumnDrift as ColumnDrift,
        DriftReport as DriftReport,
        NullRateChange as NullRateChange,
    )
    from keel.monitoring._run import MonitorRun as MonitorRun
    from keel.monitoring._sinks import (
        AlertSink as AlertSink,
        AlertSinkError as AlertSinkError,
        LogSink as LogSink,
        LogSinkSpec as LogSinkSpec,
        SinkSpec as SinkSpec,
        WebhookSinkSpec as WebhookSinkSpec,
        open_sink as open_sink,
        parse_sinks as parse_sinks,
    )
    from keel.monitoring._sketch import (
        CategoricalSketch as CategoricalSketch,
        NumericSketch as NumericSketch,
        ReferenceSketch as ReferenceSketch,
        UnsupportedColumn as UnsupportedColumn,
    )
    from keel.monitoring._values import (
        drift_values as drift_values,
        lookup_value as lookup_value,
    )
    from keel.monitoring._webhook import (
        WebhookSink as WebhookSink,
        WebhookStats as WebhookStats,
    )

_EXPORTS: dict[str, str] = {
    "AlertEvaluation": "keel.monitoring._alerts",
    "AlertEvent": "keel.monitoring._alerts",
    "AlertRule": "keel.monitoring._alerts",
    "AlertRuleError": "keel.monitoring._alerts",
    "AlertState": "keel.monitoring._alerts",
    "AlertWindow": "keel.monitoring._alerts",
    "evaluate_alerts": "keel.monitoring._alerts",
    "parse_alert_rules": "keel.monitoring._alerts",
    "Calibration": "keel.monitoring._cbpe",
    "drift": "keel.monitoring._drift",
    "DriftInputError": "keel.monitoring._errors",
    "LabelError": "keel.monitoring._errors",
    "MonitorReferenceError": "keel.monitoring._errors",
    "SketchFormatError": "keel.monitoring._errors",
    "write_html_report": "keel.monitoring._html",
    "DriftTest": "keel.monitoring._methods",
    "TESTS": "keel.monitoring._methods",
    "MonitorReportData": "keel.monitoring._monitor_report",
    "ReportAlert": "keel.monitoring._monitor_report",
    "ReportColumn": "keel.monitoring._monitor_report",
    "ReportDistribution": "keel.monitoring._monitor_report",
    "ReportWindow": "keel.monitoring._monitor_report",
    "render_monitor_report": "keel.monitoring._monitor_report",
    "write_monitor_report": "keel.monitoring._monitor_report",
    "MonitorSpec": "keel.monitoring._monitor_spec",
    "MonitorSpecError": "keel.monitoring._monitor_spec",
    "ReferenceSpec": "keel.monitoring._monitor_spec",
    "WindowSpec": "keel.monitoring._monitor_spec",
    "parse_monitor_spec": "keel.monitoring._monitor_spec",
    "create_monitor": "keel.monitoring._monitors",
    "delete_monitor": "keel.monitoring._monitors",
    "get_monitor": "keel.monitoring._monitors",
    "list_monitors": "keel.monitoring._monitors",
    "monitor_alerts": "keel.monitoring._monitors",
    "monitor_results": "keel.monitoring._monitors",
    "run_monitor": "keel.monitoring._monitors",
    "run_monitor_every": "keel.monitoring._monitors",
    "MetricsServer": "keel.monitoring._prometheus",
    "MonitorMetrics": "keel.monitoring._prometheus",
    "serve_metrics": "keel.monitoring._prometheus",
    "CategoryChange": "keel.monitoring._report",
    "ColumnDistribution": "keel.monitoring._report",
    "ColumnDrift": "keel.monitoring._report",
    "DriftReport": "keel.monitoring._report",
    "NullRateChange": "keel.monitoring._report",
    "MonitorRun": "keel.monitoring._run",
    "AlertSink": "keel.monitoring._sinks",
    "AlertSinkError": "keel.monitoring._sinks",
    "LogSink": "keel.monitoring._sinks",
    "LogSinkSpec": "keel.monitoring._sinks",
    "SinkSpec": "keel.monitoring._sinks",
    "WebhookSinkSpec": "keel.monitoring._sinks",
    "open_sink": "keel.monitoring._sinks",
    "parse_sinks": "keel.monitoring._sinks",
    "CategoricalSketch": "keel.monitoring._sketch",
    "NumericSketch": "keel.monitoring._sketch",
    "ReferenceSketch": "keel.monitoring._sketch",
    "UnsupportedColumn": "keel.monitoring._sketch",
    "drift_values": "keel.monitoring._values",
    "lookup_value": "keel.monitoring._values",
    "WebhookSink": "keel.monitoring._webhook",
    "WebhookStats": "keel.monitoring._webhook",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keel.monitoring' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
