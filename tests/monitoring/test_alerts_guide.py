"""The section "Alerts, metrics and reports" of docs/guides/monitoring.md runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from keel.monitoring import MonitorReportData
from webhook_receiver import WebhookReceiver

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "monitoring.md"


def _section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    _head, sep, section = text.partition("\n## Alerts, metrics and reports\n")
    assert sep, "the guide has no section 'Alerts, metrics and reports'"
    return section


def test_the_example_prints_what_the_guide_says(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, browser_page: Any
) -> None:
    section = _section()
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    printed = re.search(r"It prints[^\n]*:\n\n```text\n(.*?)```", section, flags=re.S)
    assert printed
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("ALERT_WEBHOOK", receiver.url)
        exec(compile(code, "guide-alerts", "exec"), {"__name__": "__main__"})
        got = [r.body for r in receiver.accepted()]
    assert capsys.readouterr().out == printed.group(1)
    # the webhook got the events, the first one as the guide shows it
    assert [b["rule"] for b in got] == ["accuracy", "inputs-drift"]
    shown = re.search(r"A webhook receives:\n\n```json\n(.*?)```", section, flags=re.S)
    assert shown
    assert json.loads(shown.group(1)) == got[1]
    # the report it wrote, as JSON and as a page that renders
    data = MonitorReportData.from_json(Path("churn-inputs.json").read_text())
    assert len(data.windows) == 5 and data.firing
    browser_page.open(Path("churn-inputs.html"))
    browser_page.wait_for("document.querySelectorAll('.js-plotly-plot').length >= 4")
    assert browser_page.count("#distribution-charts .js-plotly-plot") == 2
    assert browser_page.errors == [] and browser_page.requests == []


def test_the_metric_names_in_the_guide_exist() -> None:
    from keel.monitoring._prometheus import monitor_metric_names

    names = set(monitor_metric_names())
    section = _section()
    for name in re.findall(r"`(keel_monitor_[a-z_*]+)`", section):
        if name.endswith("*"):
            assert any(n.startswith(name[:-1]) for n in names), name
        else:
            assert name in names, name
    for suffix in re.findall(r"`(_[a-z_]+)`", section):  # `_dataset_drift` and the like
        assert any(n.endswith(suffix) for n in names), suffix
