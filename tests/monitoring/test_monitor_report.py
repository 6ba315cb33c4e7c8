"""The monitor report: typed data, JSON, one static HTML page, and the page in Chromium."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from keel.errors import InvalidArgumentError
from keel.monitoring import drift
from keel.monitoring._alerts import AlertRule, AlertWindow, evaluate_alerts
from keel.monitoring._monitor_report import (
    MonitorReportData,
    ReportAlert,
    ReportDistribution,
    ReportWindow,
    render_monitor_report,
    write_monitor_report,
)
from keel.monitoring._prometheus import MonitorMetrics

START = datetime(2026, 12, 1, tzinfo=UTC)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift * 10, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "city": rng.choice(
                ["oslo", "lima", "pune"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]
            ),
        }
    )


def sample_data(windows: int = 6, shift_from: int = 3) -> MonitorReportData:
    """A monitor over hourly windows whose inputs shift from ``shift_from`` on; labels
    arrive for the first windows only, the estimate exists for all."""
    reference = _frame(3000, seed=0)
    built = []
    for i in range(windows):
        shifted = i >= shift_from
        current = _frame(400, seed=i + 1, shift=1.0 if shifted else 0.0)
        report = drift(reference, current)
        labelled = i < windows - 2
        accuracy = 0.92 - (0.15 if shifted else 0.0) + 0.01 * (i % 2)
        built.append(
            ReportWindow.from_drift_report(
                START + timedelta(hours=i),
                START + timedelta(hours=i + 1),
                report,
                performance={"accuracy": accuracy} if labelled else {},
                estimated={"accuracy": accuracy + 0.02},
                labelled_share=1.0 if labelled else 0.0,
            )
        )
    empty = ReportWindow(
        start=START + timedelta(hours=windows), end=START + timedelta(hours=windows + 1), rows=0
    )
    built.append(empty)
    rules = [
        AlertRule(name="inputs-drift", value="drift.share_drifted", operator=">=", threshold=0.5,
                  for_windows=2, severity="critical", action="rollback"),
        AlertRule(name="accuracy", value="estimated.accuracy", operator="<", threshold=0.85),
    ]  # fmt: skip
    alert_windows = [
        AlertWindow(key=w.start.isoformat(), values=w.values(), start=w.start, end=w.end)
        for w in built
    ]
    evaluation = evaluate_alerts(rules, alert_windows)
    return MonitorReportData(
        monitor="churn-inputs",
        endpoint="churn",
        reference="churn-train/3",
        windows=built,
        alerts=[ReportAlert.from_event(e) for e in evaluation.events],
        rules=MonitorReportData.describe_rules(rules),
        firing=list(evaluation.firing),
    )


@pytest.fixture(scope="module")
def data() -> MonitorReportData:
    return sample_data()


def _embedded(page: str) -> dict[str, Any]:
    m = re.search(
        r'<script type="application/json" id="keel-monitor-data">(.*?)</script>', page, re.S
    )
    assert m
    result: dict[str, Any] = json.loads(m.group(1))
    return result


def test_windows_carry_the_drift_and_metrics(data: MonitorReportData) -> None:
    first, shifted = data.windows[0], data.windows[3]
    assert first.rows == 400 and first.drift_share is not None
    assert not first.dataset_drift and shifted.dataset_drift
    assert {c.column for c in shifted.columns if c.drifted} >= {"age", "city"}
    assert {d.column for d in first.distributions} == {"age", "income", "city"}
    assert first.performance == {"accuracy": pytest.approx(0.92)}
    assert data.windows[5].performance == {} and data.windows[5].estimated
    assert data.windows[-1].rows == 0 and data.windows[-1].drift_share is None


def test_window_values_feed_alerts_and_gauges(data: MonitorReportData) -> None:
    values = data.windows[3].values()
    assert values["drift"]["share_drifted"] == data.windows[3].drift_share
    assert values["drift"]["columns"]["age"]["drifted"] is True
    assert values["performance"]["labelled_share"] == 1.0
    assert data.windows[-1].values() == {"rows": 0}
    # inputs drift from window 3; the rule wants 2 windows: it fires at window 4
    fired = [a for a in data.alerts if a.rule == "inputs-drift"]
    assert [(a.status, a.window_start) for a in fired] == [("firing", START + timedelta(hours=4))]
    assert fired[0].action == "rollback"
    assert data.firing == [f"inputs-drift@{(START + timedelta(hours=3)).isoformat()}", "accuracy@"
                           + (START + timedelta(hours=3)).isoformat()]  # fmt: skip
    metrics = MonitorMetrics()
    metrics.set_window("churn", "churn-inputs", values)
    assert b'keel_monitor_drift_column_drifted{column="age"' in metrics.exposition()[0]


def test_json_round_trip(data: MonitorReportData, tmp_path: Path) -> None:
    text = data.to_json()
    assert json.loads(text)["format"] == "keel.monitor_report"
    assert MonitorReportData.from_json(text) == data
    path = write_monitor_report(data, tmp_path / "report.json")
    assert MonitorReportData.from_json(path.read_bytes()) == data


def test_non_finite_numbers_survive_json() -> None:
    window = ReportWindow(
        start=START, end=START + timedelta(hours=1), rows=5,
        performance={"rmse": float("inf")}, estimated={"rmse": float("nan")},
    )  # fmt: skip
    data = MonitorReportData(monitor="m", windows=[window])
    text = data.to_json()
    json.loads(text)  # strict JSON: "Infinity" and "NaN" as strings
    back = MonitorReportData.from_json(text)
    assert back.windows[0].performance["rmse"] == float("inf")
    assert np.isnan(back.windows[0].estimated["rmse"])
    render_monitor_report(data)


def test_the_page_is_self_contained_and_holds_the_data(
    data: MonitorReportData, tmp_path: Path
) -> None:
    path = write_monitor_report(data, tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)  # nothing fetched
    assert _embedded(page) == json.loads(data.to_json())
    assert "Monitor churn-inputs" in page and "2 alerts firing" in page
    assert "inputs-drift: drift.share_drifted &gt;= 0.5 for 2 windows [critical]" in page
    assert "no rows" in page
    assert len(page) > 1_000_000  # plotly.js is inside


def test_hostile_names_cannot_break_out_of_the_page() -> None:
    evil = "</script><script>alert(1)</script>"
    window = ReportWindow(
        start=START, end=START + timedelta(hours=1), rows=3,
        columns=[{"column": evil, "drifted": True, "score": 1.0}],
        distributions=[{"column": evil, "kind": "categories", "labels": [evil],
                        "reference": [1.0], "current": [1.0]}],
        drift_share=1.0, dataset_drift=True,
    )  # fmt: skip
    page = render_monitor_report(MonitorReportData(monitor=evil, windows=[window]))
    assert evil not in page
    assert _embedded(page)["monitor"] == evil


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ReportWindow(start=START, end=START, rows=1), "window ends .* before it starts"),
        (lambda: ReportWindow(start=START, end=START + timedelta(1), rows=-1), "greater than or equal to 0"),
        (
            lambda: ReportDistribution(column="a", kind="histogram", edges=[0, 1, 2],
                                       reference=[1.0], current=[1.0]),
            "distribution of 'a': 2 bins but 1 reference and 1 current shares",
        ),
        (
            lambda: MonitorReportData(monitor="m", windows=[
                ReportWindow(start=START + timedelta(hours=1), end=START + timedelta(hours=2), rows=1),
                ReportWindow(start=START, end=START + timedelta(hours=1), rows=1),
            ]),
            "windows must be oldest first",
        ),
        (lambda: MonitorReportData(monitor="m", colour="red"), "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_data_is_refused(build: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_bad_json_is_a_clear_error() -> None:
    with pytest.raises(
        InvalidArgumentError, match="not a keel monitor report: .*monitor: Field required"
    ):
        MonitorReportData.from_json('{"windows": []}')
    with pytest.raises(InvalidArgumentError, match="not a keel monitor report: format"):
        MonitorReportData.from_json('{"format": "keel.drift_report", "monitor": "m"}')


def test_an_empty_monitor_still_renders(tmp_path: Path) -> None:
    page = render_monitor_report(MonitorReportData(monitor="new"))
    assert "No alert fired." in page and "No window has distributions." in page


# ---- in headless Chromium ---------------------------------------------------------------


def test_the_report_renders_in_chromium(
    data: MonitorReportData, tmp_path: Path, browser_page: Any
) -> None:
    browser = browser_page
    browser.open(write_monitor_report(data, tmp_path / "report.html"))
    # drift share, the column heatmap, one performance chart, 3 distributions
    browser.wait_for("document.querySelectorAll('.js-plotly-plot').length >= 6")
    assert browser.count("#chart-drift-share .main-svg") >= 1
    assert browser.count("#chart-drift-columns .main-svg") >= 1
    assert browser.count("#performance-charts .js-plotly-plot") == 1
    assert browser.count("#distribution-charts .js-plotly-plot") == 3
    # the heatmap has one row per column; the performance chart has measured and estimate
    assert browser.evaluate("document.getElementById('chart-drift-columns').data[0].y") == [
        "age", "income", "city",
    ]  # fmt: skip
    traces = browser.evaluate(
        "document.getElementById('chart-performance-0').data.map(t => [t.name, t.y.length])"
    )
    assert traces == [["measured", 7], ["estimated (CBPE)", 7]]
    # picking another window redraws its distributions
    shares = "document.getElementById('chart-distribution-0').data[1].y"
    before = browser.evaluate(shares)
    browser.select("#window-select", "0")
    browser.wait_for(
        "document.querySelectorAll('#distribution-charts .js-plotly-plot').length == 3"
    )
    assert browser.evaluate(shares) != before
    assert browser.count("table:first-of-type tr") == 1 + len(data.windows)
    assert browser.errors == []
    assert browser.requests == []
