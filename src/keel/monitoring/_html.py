"""A drift report as one self-contained HTML page (plotly.js inlined, no network).

The page holds the summary table, the findings (schema, categories, null rates) and a
chart per column of the reference and current distributions on shared bins. The report's
JSON (:meth:`DriftReport.to_dict`) is embedded in the page, and the charts are drawn from
it, so the page and ``--json`` always show the same numbers.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.monitoring._report import ColumnDrift, DriftReport

__all__ = ["plotly_js", "render_html", "write_html_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2933}
h1{font-size:1.4em;margin-bottom:4px} h2{font-size:1.15em;margin-top:28px}
.meta{color:#52606d;margin-bottom:16px}
table{border-collapse:collapse;font-size:0.9em} th,td{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left}
th{background:#f5f7fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.drift{color:#b91c1c;font-weight:600} .ok{color:#047857} .skip{color:#7b8794}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600}
.badge.drift{background:#fee2e2} .badge.ok{background:#d1fae5}
.chart{width:100%;max-width:760px;height:300px}
"""

_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('keel-drift-data').textContent);
  data.distributions.forEach(function (d, i) {
    var el = document.getElementById('chart-' + i);
    if (!el) { return; }
    var x, width;
    if (d.kind === 'histogram') {
      x = []; width = [];
      for (var k = 0; k + 1 < d.edges.length; k++) {
        x.push((d.edges[k] + d.edges[k + 1]) / 2); width.push(d.edges[k + 1] - d.edges[k]);
      }
    } else { x = d.labels; width = null; }
    var traces = [
      {type: 'bar', name: 'reference', x: x, y: d.reference, width: width, opacity: 0.6, marker: {color: '#3b82f6'}},
      {type: 'bar', name: 'current', x: x, y: d.current, width: width, opacity: 0.6, marker: {color: '#f97316'}}
    ];
    var layout = {barmode: 'overlay', title: {text: d.column}, margin: {t: 40, r: 10, b: 40, l: 50},
                  yaxis: {title: {text: 'share of rows'}}, legend: {orientation: 'h'}};
    Plotly.newPlot(el, traces, layout, {displaylogo: false, responsive: true});
  });
})();
"""


def plotly_js() -> str:
    """The plotly.js bundle shipped inside the installed ``plotly`` package.

    Raises:
        MissingExtraError: plotly is not installed (``pip install 'keel[monitoring]'``).
    """
    from importlib import resources

    try:
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        from keel.errors import MissingExtraError

        raise MissingExtraError.for_extra("plotly", "monitoring") from None


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def _row(c: ColumnDrift) -> str:
    e = html.escape
    if not c.tested:
        status = '<span class="skip">skipped</span>'
    elif c.drifted:
        status = '<span class="drift">drift</span>'
    else:
        status = '<span class="ok">no drift</span>'
    notes = [c.skipped or ""]
    if c.high_cardinality:
        notes.append("high cardinality")
    if c.approximate:
        notes.append("approximate")
    if c.band:
        notes.append(f"PSI band: {c.band}")
    cells = [
        e(c.column),
        e(c.column_type),
        e(c.test or ""),
        f'<td class="num">{_fmt(c.statistic)}</td>',
        f'<td class="num">{_fmt(c.p_value)}</td>',
        f'<td class="num">{_fmt(c.threshold)}</td>',
        status,
        f'<td class="num">{c.reference_size:,}</td>',
        f'<td class="num">{c.current_size:,}</td>',
        e("; ".join(n for n in notes if n)),
    ]
    return "<tr>" + "".join(x if x.startswith("<td") else f"<td>{x}</td>" for x in cells) + "</tr>"


def _findings(report: DriftReport) -> str:
    e = html.escape
    items: list[str] = []
    if report.missing_columns:
        items.append(
            f"<li>missing in the current data: {e(', '.join(report.missing_columns))}</li>"
        )
    if report.new_columns:
        items.append(f"<li>new in the current data: {e(', '.join(report.new_columns))}</li>")
    for ch in report.category_changes:
        parts = []
        if ch.new_count:
            shown = ", ".join(map(str, ch.new[:10]))
            parts.append(f"{ch.new_count} new ({shown}; {ch.new_share:.1%} of current rows)")
        if ch.vanished_count:
            shown = ", ".join(map(str, ch.vanished[:10]))
            parts.append(
                f"{ch.vanished_count} vanished ({shown}; {ch.vanished_share:.1%} of reference rows)"
            )
        approx = " (approximate)" if ch.approximate else ""
        items.append(f"<li>{e(ch.column)}: {e('; '.join(parts))}{approx}</li>")
    for nr in report.null_rate_changes:
        items.append(
            f"<li>{e(nr.column)}: null rate {nr.reference_rate:.2%} in the reference, "
            f"{nr.current_rate:.2%} now</li>"
        )
    if not items:
        return "<p>No schema, category or null-rate changes.</p>"
    return "<ul>" + "".join(items) + "</ul>"


def render_html(report: DriftReport) -> str:
    """The report as one HTML page (a string), plotly.js inlined."""
    e = html.escape
    # "<" only occurs inside JSON strings; as \u003c no "</script>" or "<!--" can end
    # or confuse the script element, whatever a column is called
    data = json.dumps(report.to_dict(), allow_nan=False).replace("<", "\\u003c")
    verdict = (
        '<span class="badge drift">dataset drift</span>'
        if report.dataset_drift
        else '<span class="badge ok">no dataset drift</span>'
    )
    header = (
        "<tr><th>column</th><th>type</th><th>test</th><th>statistic</th><th>p-value</th>"
        "<th>threshold</th><th>result</th><th>reference n</th><th>current n</th><th>notes</th></tr>"
    )
    rows = "".join(_row(c) for c in report.columns)
    charts = "".join(
        f'<div class="chart" id="chart-{i}" role="img" aria-label="{e(d.column)}"></div>'
        for i, d in enumerate(report.distributions)
    )
    summary = (
        f"{len(report.drifted_columns)} of {len(report.tested_columns)} tested columns drifted "
        f"({report.drift_share:.0%}; dataset drift from {report.drift_share_threshold:.0%})"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Drift: {e(report.current)} vs {e(report.reference)}</title>"
        f"<style>{_STYLE}</style><script>{plotly_js()}</script></head><body>"
        f"<h1>Data drift {verdict}</h1>"
        f'<div class="meta">reference: {e(report.reference)} ({report.reference_rows:,} rows) · '
        f"current: {e(report.current)} ({report.current_rows:,} rows) · {e(summary)}</div>"
        f"<h2>Columns</h2><table>{header}{rows}</table>"
        f"<h2>Findings</h2>{_findings(report)}"
        f"<h2>Distributions</h2>{charts}"
        f'<script type="application/json" id="keel-drift-data">{data}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html_report(report: DriftReport, path: str | Path) -> Path:
    """Write the report as one self-contained HTML page; returns the path.

    Example::

        >>> write_html_report(keel.monitoring.drift(ref, cur), "drift.html")
    """
    out = Path(path)
    out.write_text(render_html(report), encoding="utf-8")
    return out
