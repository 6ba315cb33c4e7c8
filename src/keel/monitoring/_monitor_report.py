"""A monitor's report: typed data in, one self-contained HTML page (or JSON) out.

Whoever runs a monitor fills a :class:`MonitorReportData` (its windows with rows, drift
per column, distributions, measured and estimated performance, and the alerts), and
:func:`render_monitor_report` draws the page: a summary table, drift over time,
performance over time with the estimate beside it, the alerts, and per-column
distributions reference vs current for any window. plotly.js is inlined from the
installed plotly package (no network), and the page draws its charts from the same JSON
that :meth:`MonitorReportData.to_json` gives, so the page and the JSON cannot disagree.

Example::

    >>> window = ReportWindow.from_drift_report(start, end, keel.monitoring.drift(ref, cur),
    ...                                         performance={"accuracy": 0.91})
    >>> data = MonitorReportData(monitor="churn-inputs", endpoint="churn", windows=[window])
    >>> write_monitor_report(data, "report.html")
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.errors import InvalidArgumentError
from keel.monitoring._html import _STYLE, _fmt, plotly_js

if TYPE_CHECKING:
    from keel.monitoring._alerts import AlertEvent, AlertRule
    from keel.monitoring._report import DriftReport

__all__ = [
    "MonitorReportData",
    "ReportAlert",
    "ReportColumn",
    "ReportDistribution",
    "ReportWindow",
    "render_monitor_report",
    "write_monitor_report",
]

REPORT_FORMAT: Literal["keel.monitor_report"] = "keel.monitor_report"
REPORT_VERSION = 1

# non-finite numbers cross JSON as the strings "Infinity", "-Infinity", "NaN"
_CONFIG = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class ReportColumn(BaseModel):
    """One column's drift test in one window (see :class:`~keel.monitoring.ColumnDrift`)."""

    model_config = _CONFIG

    column: str
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    score: float | None = None
    threshold: float | None = None
    drifted: bool = False


class ReportDistribution(BaseModel):
    """A column's reference and current distributions on shared bins, in one window.

    ``histogram``: ``edges`` has one more entry than the shares; ``categories``:
    ``labels`` names each bar.
    """

    model_config = _CONFIG

    column: str
    kind: Literal["histogram", "categories"]
    edges: list[float] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    reference: list[float]
    current: list[float]

    @model_validator(mode="after")
    def _check_bins(self) -> ReportDistribution:
        bins = len(self.edges) - 1 if self.kind == "histogram" else len(self.labels)
        if not (len(self.reference) == len(self.current) == bins):
            raise ValueError(
                f"distribution of {self.column!r}: {bins} bins but {len(self.reference)} "
                f"reference and {len(self.current)} current shares"
            )
        return self


class ReportWindow(BaseModel):
    """One window of a monitor.

    Attributes:
        start: where it starts (inclusive).
        end: where it ends (exclusive).
        rows: predictions logged in it (0: an empty window, shown as "no rows").
        drift_share: share of tested input columns that drifted (``None``: not computed).
        dataset_drift: whether that share reached the threshold.
        columns: per input column, its drift test.
        prediction_drift_share: the same over the model's outputs.
        prediction_columns: per output column, its drift test.
        distributions: reference vs current per column (inputs and outputs).
        performance: metrics measured on the rows labelled so far (``accuracy``, ``f1``,
            ``rmse``, ...).
        estimated: metrics estimated before labels (CBPE).
        labelled_share: share of the window's rows that have a label.
    """

    model_config = _CONFIG

    start: datetime
    end: datetime
    rows: int = Field(ge=0)
    drift_share: float | None = None
    dataset_drift: bool | None = None
    columns: list[ReportColumn] = Field(default_factory=list)
    prediction_drift_share: float | None = None
    prediction_columns: list[ReportColumn] = Field(default_factory=list)
    distributions: list[ReportDistribution] = Field(default_factory=list)
    performance: dict[str, float] = Field(default_factory=dict)
    estimated: dict[str, float] = Field(default_factory=dict)
    labelled_share: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _check_span(self) -> ReportWindow:
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self

    @classmethod
    def from_drift_report(
        cls,
        start: datetime,
        end: datetime,
        report: DriftReport | None,
        *,
        rows: int | None = None,
        prediction_report: DriftReport | None = None,
        performance: Mapping[str, float] | None = None,
        estimated: Mapping[str, float] | None = None,
        labelled_share: float | None = None,
    ) -> ReportWindow:
        """A window from the drift reports of its inputs (and outputs) and its metrics.

        ``rows`` defaults to the report's current rows; a window with no rows has no
        report (``None``).
        """
        columns: list[ReportColumn] = []
        distributions: list[ReportDistribution] = []
        predictions: list[ReportColumn] = []
        for source, target in ((report, columns), (prediction_report, predictions)):
            if source is None:
                continue
            target.extend(
                ReportColumn(
                    column=c.column,
                    test=c.test,
                    statistic=c.statistic,
                    p_value=c.p_value,
                    score=c.score,
                    threshold=c.threshold,
                    drifted=c.drifted,
                )
                for c in source.columns
                if c.tested
            )
            distributions.extend(
                ReportDistribution(
                    column=d.column,
                    kind=d.kind,
                    edges=list(d.edges),
                    labels=list(d.labels),
                    reference=list(d.reference),
                    current=list(d.current),
                )
                for d in source.distributions
            )
        return cls(
            start=start,
            end=end,
            rows=rows if rows is not None else (report.current_rows if report else 0),
            drift_share=report.drift_share if report else None,
            dataset_drift=report.dataset_drift if report else None,
            columns=columns,
            prediction_drift_share=prediction_report.drift_share if prediction_report else None,
            prediction_columns=predictions,
            distributions=distributions,
            performance=dict(performance or {}),
            estimated=dict(estimated or {}),
            labelled_share=labelled_share,
        )

    def values(self) -> dict[str, Any]:
        """The window's values as alert rules and gauges read them (see ``_values``)."""

        def section(share: float | None, cols: list[ReportColumn]) -> dict[str, Any]:
            return {
                "share_drifted": share,
                "drifted_columns": sum(c.drifted for c in cols),
                "tested_columns": len(cols),
                "columns": {
                    c.column: {
                        "statistic": c.statistic,
                        "p_value": c.p_value,
                        "score": c.score,
                        "drifted": c.drifted,
                    }
                    for c in cols
                },
            }

        out: dict[str, Any] = {"rows": self.rows}
        if self.drift_share is not None or self.columns:
            out["drift"] = section(self.drift_share, self.columns)
            out["drift"]["dataset_drift"] = self.dataset_drift
        if self.prediction_drift_share is not None or self.prediction_columns:
            out["prediction_drift"] = section(self.prediction_drift_share, self.prediction_columns)
        performance = dict(self.performance)
        if self.labelled_share is not None:
            performance.setdefault("labelled_share", self.labelled_share)
        if performance:
            out["performance"] = performance
        if self.estimated:
            out["estimated"] = dict(self.estimated)
        return out


class ReportAlert(BaseModel):
    """An alert that fired or resolved (see :class:`~keel.monitoring.AlertEvent`)."""

    model_config = _CONFIG

    alert_id: str
    rule: str
    status: Literal["firing", "resolved"]
    severity: Literal["info", "warning", "critical"]
    value_path: str
    operator: str
    threshold: float
    value: float
    window: str
    since: str
    message: str
    window_start: datetime | None = None
    action: str | None = None

    @classmethod
    def from_event(cls, event: AlertEvent) -> ReportAlert:
        """The report's record of an alert event."""
        return cls(
            alert_id=event.alert_id,
            rule=event.rule,
            status=event.status,
            severity=event.severity,
            value_path=event.value_path,
            operator=event.operator,
            threshold=event.threshold,
            value=event.value,
            window=event.window,
            since=event.since,
            message=event.message,
            window_start=event.window_start,
            action=event.action,
        )


class MonitorReportData(BaseModel):
    """Everything a monitor report shows; :meth:`to_json` is the report as JSON.

    Attributes:
        monitor: the monitor's name.
        endpoint: the endpoint it watches.
        reference: what its reference is (``churn-train/3``, a sketch).
        generated_at: when the report was made (now, by default).
        drift_share_threshold: dataset drift from this share of drifted columns.
        windows: the windows, oldest first.
        alerts: alert events, oldest first.
        rules: the monitor's alert rules, shown as text (``drift.share_drifted >= 0.5``).
        firing: ids of the alerts firing now.
    """

    model_config = _CONFIG

    format: Literal["keel.monitor_report"] = REPORT_FORMAT
    format_version: int = REPORT_VERSION
    monitor: str
    endpoint: str | None = None
    reference: str | None = None
    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    drift_share_threshold: float = 0.5
    windows: list[ReportWindow] = Field(default_factory=list)
    alerts: list[ReportAlert] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    firing: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_order(self) -> MonitorReportData:
        for before, after in zip(self.windows, self.windows[1:], strict=False):
            if after.start < before.start:
                raise ValueError(
                    f"windows must be oldest first: {after.start} comes after {before.start}"
                )
        return self

    @staticmethod
    def describe_rules(rules: list[AlertRule]) -> list[str]:
        """Rules as the report shows them: ``name: value op threshold [severity]``."""
        return [f"{r.name}: {r.describe()} [{r.severity}]" for r in rules]

    def to_json(self, indent: int | None = None) -> str:
        """The report's data as JSON (non-finite numbers as ``"Infinity"``, ``"NaN"``)."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> MonitorReportData:
        """The data :meth:`to_json` wrote.

        Raises:
            InvalidArgumentError: the text is not a monitor report of this format.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise InvalidArgumentError(f"not a keel monitor report: {problems}") from None


_REPORT_STYLE = """
.alert-critical{color:#b91c1c;font-weight:600} .alert-warning{color:#b45309;font-weight:600}
.alert-info{color:#1d4ed8} .resolved{color:#047857}
.wide{width:100%;max-width:1100px;height:340px} .muted{color:#7b8794}
select{font-size:1em;padding:2px 6px;margin:6px 0}
"""

_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('keel-monitor-data').textContent);
  function num(v) { return (typeof v === 'number' && isFinite(v)) ? v : null; }
  var cfg = {displaylogo: false, responsive: true};
  var x = data.windows.map(function (w) { return w.start; });
  // drift over time: the share of drifted columns, the threshold, and a column heatmap
  var share = data.windows.map(function (w) { return w.rows ? num(w.drift_share) : null; });
  var pshare = data.windows.map(function (w) { return w.rows ? num(w.prediction_drift_share) : null; });
  var traces = [{type: 'scatter', mode: 'lines+markers', name: 'inputs', x: x, y: share}];
  if (pshare.some(function (v) { return v !== null; })) {
    traces.push({type: 'scatter', mode: 'lines+markers', name: 'predictions', x: x, y: pshare});
  }
  Plotly.newPlot('chart-drift-share', traces, {
    title: {text: 'Share of drifted columns'}, margin: {t: 40, r: 10, b: 40, l: 50},
    yaxis: {range: [0, 1.05], tickformat: '.0%'}, legend: {orientation: 'h'},
    shapes: [{type: 'line', xref: 'paper', x0: 0, x1: 1, y0: data.drift_share_threshold,
              y1: data.drift_share_threshold, line: {dash: 'dash', color: '#b91c1c'}}]
  }, cfg);
  var names = [];
  data.windows.forEach(function (w) {
    w.columns.forEach(function (c) { if (names.indexOf(c.column) < 0) { names.push(c.column); } });
  });
  if (names.length) {
    var z = [], text = [];
    names.forEach(function (name) {
      var zr = [], tr = [];
      data.windows.forEach(function (w) {
        var c = null;
        w.columns.forEach(function (k) { if (k.column === name) { c = k; } });
        zr.push(c ? (c.drifted ? 1 : 0) : null);
        tr.push(c ? (c.test + ' score ' + c.score + (c.drifted ? ' (drift)' : '')) : 'not tested');
      });
      z.push(zr); text.push(tr);
    });
    Plotly.newPlot('chart-drift-columns', [{type: 'heatmap', x: x, y: names, z: z, text: text,
      hoverinfo: 'x+y+text', zmin: 0, zmax: 1, showscale: false,
      colorscale: [[0, '#d1fae5'], [1, '#ef4444']]}], {
      title: {text: 'Drift by column (red: drifted)'}, margin: {t: 40, r: 10, b: 40, l: 120},
      height: Math.max(240, 60 + 22 * names.length)}, cfg);
  }
  // performance over time: measured once labels exist, the estimate beside it
  var metrics = [];
  data.windows.forEach(function (w) {
    Object.keys(w.performance).concat(Object.keys(w.estimated)).forEach(function (m) {
      if (metrics.indexOf(m) < 0 && m !== 'labelled_share') { metrics.push(m); }
    });
  });
  var perf = document.getElementById('performance-charts');
  metrics.forEach(function (m, i) {
    var el = document.createElement('div');
    el.className = 'wide'; el.id = 'chart-performance-' + i; perf.appendChild(el);
    Plotly.newPlot(el, [
      {type: 'scatter', mode: 'lines+markers', name: 'measured', x: x,
       y: data.windows.map(function (w) { return num(w.performance[m]); })},
      {type: 'scatter', mode: 'lines+markers', name: 'estimated (CBPE)', x: x,
       y: data.windows.map(function (w) { return num(w.estimated[m]); }), line: {dash: 'dash'}}
    ], {title: {text: m}, margin: {t: 40, r: 10, b: 40, l: 50}, legend: {orientation: 'h'}}, cfg);
  });
  // distributions of the chosen window, reference vs current
  var select = document.getElementById('window-select');
  var box = document.getElementById('distribution-charts');
  function draw(index) {
    while (box.firstChild) { Plotly.purge(box.firstChild); box.removeChild(box.firstChild); }
    data.windows[index].distributions.forEach(function (d, i) {
      var el = document.createElement('div');
      el.className = 'chart'; el.id = 'chart-distribution-' + i; box.appendChild(el);
      var bx, width = null;
      if (d.kind === 'histogram') {
        bx = []; width = [];
        for (var k = 0; k + 1 < d.edges.length; k++) {
          bx.push((d.edges[k] + d.edges[k + 1]) / 2); width.push(d.edges[k + 1] - d.edges[k]);
        }
      } else { bx = d.labels; }
      Plotly.newPlot(el, [
        {type: 'bar', name: 'reference', x: bx, y: d.reference.map(num), width: width, opacity: 0.6},
        {type: 'bar', name: 'current', x: bx, y: d.current.map(num), width: width, opacity: 0.6}
      ], {barmode: 'overlay', title: {text: d.column}, margin: {t: 40, r: 10, b: 40, l: 50},
          yaxis: {title: {text: 'share of rows'}}, legend: {orientation: 'h'}}, cfg);
    });
  }
  if (select) {
    select.addEventListener('change', function () { draw(Number(select.value)); });
    draw(Number(select.value));
  }
})();
"""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _summary_rows(data: MonitorReportData, metrics: list[str]) -> str:
    e = html.escape
    rows = []
    for w in data.windows:
        if w.rows == 0:
            drift_cell = '<td class="muted">no rows</td>'
        elif w.drift_share is None:
            drift_cell = '<td class="muted">not computed</td>'
        else:
            drifted = [c.column for c in w.columns if c.drifted]
            names = ", ".join(drifted[:5]) + (f" +{len(drifted) - 5}" if len(drifted) > 5 else "")
            css = "drift" if w.dataset_drift else "ok"
            drift_cell = (
                f'<td class="num {css}">{w.drift_share:.0%}'
                f"{' (' + e(names) + ')' if names else ''}</td>"
            )
        pred = "" if w.prediction_drift_share is None else f"{w.prediction_drift_share:.0%}"
        cells = [
            f"<td>{e(_when(w.start))} to {e(_when(w.end))}</td>",
            f'<td class="num">{w.rows:,}</td>',
            drift_cell,
            f'<td class="num">{pred}</td>',
        ]
        for m in metrics:
            measured, estimate = w.performance.get(m), w.estimated.get(m)
            cells.append(f'<td class="num">{_fmt(measured)}</td>')
            cells.append(f'<td class="num">{_fmt(estimate)}</td>')
        labelled = "" if w.labelled_share is None else f"{w.labelled_share:.0%}"
        cells.append(f'<td class="num">{labelled}</td>')
        alerts = [a for a in data.alerts if _in_window(a, w)]
        cells.append(
            "<td>"
            + ", ".join(
                f'<span class="{_alert_class(a)}">{e(a.rule)} {e(a.status)}</span>' for a in alerts
            )
            + "</td>"
        )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(rows)


def _in_window(alert: ReportAlert, window: ReportWindow) -> bool:
    if alert.window_start is not None:
        return alert.window_start == window.start
    return alert.window == window.start.isoformat()


def _alert_class(alert: ReportAlert) -> str:
    return "resolved" if alert.status == "resolved" else f"alert-{alert.severity}"


def _alerts_table(data: MonitorReportData) -> str:
    e = html.escape
    if not data.alerts:
        return "<p>No alert fired.</p>"
    rows = "".join(
        f'<tr><td>{e(_when(a.window_start) or a.window)}</td><td class="{_alert_class(a)}">'
        f"{e(a.status)}</td><td>{e(a.severity)}</td><td>{e(a.rule)}</td>"
        f"<td>{e(a.message)}</td><td>{e(a.action or '')}</td></tr>"
        for a in data.alerts
    )
    return (
        "<table><tr><th>window</th><th>status</th><th>severity</th><th>rule</th>"
        f"<th>what</th><th>action</th></tr>{rows}</table>"
    )


def render_monitor_report(data: MonitorReportData) -> str:
    """The report as one HTML page (a string), plotly.js inlined.

    Raises:
        MissingExtraError: plotly is not installed (``pip install 'keel[monitoring]'``).
    """
    e = html.escape
    # "<" only occurs inside JSON strings; as \\u003c nothing can close the script element
    payload = data.to_json().replace("<", "\\u003c")
    metrics: list[str] = []
    for w in data.windows:
        for m in [*w.performance, *w.estimated]:
            if m not in metrics and m != "labelled_share":
                metrics.append(m)
    head = (
        "<tr><th>window</th><th>rows</th><th>input drift</th><th>prediction drift</th>"
        + "".join(f"<th>{e(m)}</th><th>{e(m)} (estimated)</th>" for m in metrics)
        + "<th>labelled</th><th>alerts</th></tr>"
    )
    firing = len(data.firing)
    badge = (
        f'<span class="badge drift">{firing} alert{"s" if firing != 1 else ""} firing</span>'
        if firing
        else '<span class="badge ok">no alert firing</span>'
    )
    span = ""
    if data.windows:
        span = f" · windows: {e(_when(data.windows[0].start))} to {e(_when(data.windows[-1].end))}"
    meta = (
        f"endpoint: {e(data.endpoint or '-')} · reference: {e(data.reference or '-')}{span} · "
        f"{len(data.windows)} windows · generated {e(_when(data.generated_at))} UTC"
    )
    rules = (
        "<ul>" + "".join(f"<li>{e(r)}</li>" for r in data.rules) + "</ul>"
        if data.rules
        else "<p>No alert rules.</p>"
    )
    with_distributions = [i for i, w in enumerate(data.windows) if w.distributions]
    if with_distributions:
        options = "".join(
            f'<option value="{i}"{" selected" if i == with_distributions[-1] else ""}>'
            f"{e(_when(data.windows[i].start))}</option>"
            for i in with_distributions
        )
        distributions = (
            f'<label>window <select id="window-select">{options}</select></label>'
            '<div id="distribution-charts"></div>'
        )
    else:
        distributions = "<p>No window has distributions.</p>"
    performance = (
        '<div id="performance-charts"></div>'
        if metrics
        else '<p>No performance yet: no labels and no estimate.</p><div id="performance-charts"></div>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Monitor {e(data.monitor)}</title>"
        f"<style>{_STYLE}{_REPORT_STYLE}</style><script>{plotly_js()}</script></head><body>"
        f"<h1>Monitor {e(data.monitor)} {badge}</h1>"
        f'<div class="meta">{meta}</div>'
        f"<h2>Summary</h2><table>{head}{_summary_rows(data, metrics)}</table>"
        f"<h2>Alerts</h2>{_alerts_table(data)}<h3>Rules</h3>{rules}"
        '<h2>Drift over time</h2><div class="wide" id="chart-drift-share"></div>'
        '<div class="wide" id="chart-drift-columns"></div>'
        f"<h2>Performance over time</h2>{performance}"
        f"<h2>Distributions: reference vs current</h2>{distributions}"
        f'<script type="application/json" id="keel-monitor-data">{payload}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_monitor_report(data: MonitorReportData, path: str | Path) -> Path:
    """Write the report as one self-contained HTML page; returns the path.

    A path ending in ``.json`` gets :meth:`MonitorReportData.to_json` instead.

    Example::

        >>> write_monitor_report(data, "churn-inputs.html")
    """
    out = Path(path)
    if out.suffix.lower() == ".json":
        out.write_text(data.to_json(indent=2) + "\n", encoding="utf-8")
    else:
        out.write_text(render_monitor_report(data), encoding="utf-8")
    return out
