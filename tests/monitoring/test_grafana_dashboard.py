"""docs/grafana/keel-dashboard.json: a Grafana dashboard whose queries name real metrics.

The metric names and labels come from keel's own registries (the serving app's
:class:`ServingMetrics` and :class:`MonitorMetrics` filled with every kind of value),
never from a list written here, so renaming a metric without the dashboard fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from keel.monitoring._alerts import AlertRule, AlertWindow, evaluate_alerts
from keel.monitoring._prometheus import MonitorMetrics, monitor_metric_names

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "keel-dashboard.json"

# PromQL's functions, aggregations and keywords that the dashboard may use
_PROMQL_WORDS = {
    "sum", "avg", "max", "min", "count", "topk", "bottomk", "rate", "irate", "increase",
    "histogram_quantile", "time", "abs", "clamp_min", "clamp_max", "and", "or", "unless",
    "offset", "bool", "avg_over_time", "max_over_time", "min_over_time", "delta", "deriv",
    "vector", "scalar", "sort", "sort_desc", "label_replace", "absent",
}  # fmt: skip
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)")
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)")


def known_series() -> dict[str, set[str]]:
    """Every sample name keel exposes -> its label names, from the real registries."""
    from keel.serving._metrics import ServingMetrics

    series: dict[str, set[str]] = {}
    serving = ServingMetrics()
    for attr in vars(serving).values():
        labels = getattr(attr, "_labelnames", None)
        if labels is None:
            continue
        name, kind = attr._name, attr._type
        if kind == "counter":
            series[f"{name}_total"] = set(labels)
        elif kind == "histogram":
            series[f"{name}_bucket"] = {*labels, "le"}
            series[f"{name}_sum"] = set(labels)
            series[f"{name}_count"] = set(labels)
        else:
            series[name] = set(labels)
    # every family the serving registry holds was found above
    families = {f.name for f in serving.registry.collect()}
    assert {re.sub(r"_(total|bucket|sum|count)$", "", s) for s in series} >= families

    metrics = MonitorMetrics(max_columns=5)
    drift = {
        "share_drifted": 0.5, "dataset_drift": True, "drifted_columns": 1, "tested_columns": 2,
        "columns": {"age": {"statistic": 0.3, "p_value": 0.01, "score": 0.01, "drifted": True}},
    }  # fmt: skip
    values = {
        "rows": 10,
        "drift": drift,
        "prediction_drift": drift,
        "performance": {"accuracy": 0.9},
        "estimated": {"accuracy": 0.8},
    }
    from datetime import UTC, datetime

    metrics.set_window("e", "m", values, window_end=datetime.now(UTC))
    rule = AlertRule(name="r", value="rows", operator=">", threshold=1)
    states = evaluate_alerts([rule], [AlertWindow(key="w", values=values)]).states
    metrics.set_alerts("e", "m", [rule], states)
    for family in metrics.registry.collect():
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    assert set(monitor_metric_names()) <= set(series)  # every gauge was filled
    return series


def problems_in(expr: str, series: dict[str, set[str]]) -> list[str]:
    """What is wrong with one PromQL expression: unknown metrics, unknown labels."""
    problems: list[str] = []
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals say nothing about names
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges: [5m], [$__rate_interval]
    used: list[str] = []

    def selector(match: re.Match[str]) -> str:
        name = match.group(1)
        labels = _MATCHER.findall(match.group(2))
        if name:
            used.append(name)
            for label, _ in labels:
                if name in series and label not in series[name]:
                    problems.append(f"{name} has no label {label!r}")
        return " "

    text = _SELECTOR.sub(selector, text)
    groupings = _GROUPING.findall(text)
    text = _GROUPING.sub(" ", text)
    for word in _IDENT.findall(text):
        if word not in _PROMQL_WORDS:
            used.append(word)
    for name in used:
        if name not in series:
            problems.append(f"unknown metric {name!r}")
    all_labels = set().union(*(series.get(n, set()) for n in used)) if used else set()
    for _, names in groupings:
        for label in filter(None, (n.strip() for n in names.split(","))):
            if label not in all_labels:
                problems.append(f"grouping by {label!r}, which {used} do not have")
    return problems


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        assert m, f"variable {var['name']}: {query}"
        out.append((f"variable {var['name']!r}", f"sum by ({m.group(2)}) ({m.group(1)})"))
    return out


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def series() -> dict[str, set[str]]:
    return known_series()


def test_it_has_a_dashboards_structure(dashboard: dict[str, Any]) -> None:
    assert isinstance(dashboard["title"], str) and dashboard["title"]
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names[0] == "datasource" and {"endpoint", "monitor"} <= set(names)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["type"] in {"row", "timeseries", "stat", "table", "gauge", "bargauge"}
        assert panel["title"]
        pos = panel["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("h", "w", "x", "y"))
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] >= 1
        mine = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip()
            # balanced brackets: a dashboard Grafana cannot parse is worse than none
            for a, b in ("()", "{}", "[]"):
                assert target["expr"].count(a) == target["expr"].count(b), target["expr"]


def test_every_query_names_metrics_and_labels_keel_exposes(
    dashboard: dict[str, Any], series: dict[str, set[str]]
) -> None:
    problems = [
        f"{where}: {p}" for where, expr in _queries(dashboard) for p in problems_in(expr, series)
    ]
    assert problems == []


def test_it_covers_every_serving_metric_and_the_main_monitor_gauges(
    dashboard: dict[str, Any], series: dict[str, set[str]]
) -> None:
    text = " ".join(expr for _, expr in _queries(dashboard))
    used = {name for name in series if re.search(rf"\b{name}\b", text)}
    serving_families = {
        re.sub(r"_(total|bucket|sum|count)$", "", n)
        for n in series
        if not n.startswith("keel_monitor_")
    }
    used_families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert serving_families <= used_families, serving_families - used_families
    assert {
        "keel_monitor_alert_firing",
        "keel_monitor_drift_share_drifted",
        "keel_monitor_prediction_drift_share_drifted",
        "keel_monitor_drift_column_score",
        "keel_monitor_drift_column_drifted",
        "keel_monitor_performance",
        "keel_monitor_estimated_performance",
        "keel_monitor_window_rows",
        "keel_monitor_window_end_timestamp_seconds",
    } <= used


def test_the_checker_catches_what_it_should(series: dict[str, set[str]]) -> None:
    # the checks above would pass on anything if the checker saw nothing: it must see these
    assert problems_in('rate(keel_request_total{endpoint=~"$endpoint"}[5m])', series) == [
        "unknown metric 'keel_request_total'"
    ]
    assert problems_in('keel_monitor_drift_share_drifted{column="x"}', series) == [
        "keel_monitor_drift_share_drifted has no label 'column'"
    ]
    assert problems_in("sum by (route) (keel_monitor_window_rows)", series) == [
        "grouping by 'route', which ['keel_monitor_window_rows'] do not have"
    ]
    assert problems_in("up", series) == ["unknown metric 'up'"]
    assert (
        problems_in(
            "histogram_quantile(0.99, sum by (le, endpoint) "
            "(rate(keel_request_duration_seconds_bucket[$__rate_interval])))",
            series,
        )
        == []
    )
