"""``keel monitors create|list|show|run|report|delete`` and ``keel monitor run|report``,
run as the real console script over a log the real serving app wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitoring.monitored import frame, labels_of, make_models, send

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"

pytestmark = pytest.mark.timeout(180)

SPEC = """\
endpoint: credit
window: {rows: 100}
grace: 1ms
lateness: 2s
alerts:
  - {name: inputs-drift, value: drift.share_drifted, operator: ">=", threshold: 0.5,
     severity: critical}
sinks:
  - {type: log}
"""


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _watched(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    make_models(rng, versions=1)
    spec = tmp_path / "watch.yaml"
    spec.write_text(SPEC)
    out = run_cli("monitors", "create", "watch", "-f", str(spec), "--reason", "launch").stdout
    assert "monitor watch (revision 1) watches endpoint credit: windows of 100 rows" in out
    send([frame(rng, 100), frame(rng, 100, shifted=True)], feedback=labels_of)
    time.sleep(2.5)  # lateness: every label the windows may get is in


def test_create_list_run_show_delete(client: Any, tmp_path: Path) -> None:
    _watched(tmp_path)
    listed = json.loads(run_cli("monitors", "list", "--json").stdout)
    assert [(m["name"], m["endpoint"]) for m in listed] == [("watch", "credit")]
    done = json.loads(run_cli("monitor", "run", "watch", "--json").stdout)
    checks = sorted((r["window"], r["check"], r["status"]) for r in done["computed"])
    assert ("rows:0-100", "data_drift", "ok") in checks
    assert ("rows:100-200", "data_drift", "drift") in checks
    assert ("rows:100-200", "performance", "ok") in checks
    assert [a["rule"] for a in done["alerts"]] == ["inputs-drift"]
    again = json.loads(run_cli("monitors", "run", "watch", "--json").stdout)
    assert again["computed"] == [] and again["alerts"] == []
    shown = run_cli("monitors", "show", "watch").stdout
    assert "monitor watch (revision 1) of endpoint credit" in shown
    assert "alert inputs-drift [critical] firing, fired on rows 100-200" in shown
    history = run_cli("monitors", "show", "watch", "--history").stdout
    assert "revision 1: create by" in history and "(launch)" in history
    # errors are one clean line
    bad = run_cli("monitors", "create", "w2", "--endpoint", "credit", check=False)
    assert bad.returncode == 1 and "give the windows: --rows N or --every 5m" in bad.stderr
    missing = run_cli("monitor", "run", "nope", check=False)
    assert missing.returncode == 1 and "monitor 'nope' does not exist" in missing.stderr
    run_cli("monitors", "delete", "watch", "--reason", "done")
    assert json.loads(run_cli("monitors", "list", "--json").stdout) == []


def test_the_report_of_a_stored_monitor_renders_in_chromium(
    client: Any, tmp_path: Path, browser_page: Any
) -> None:
    _watched(tmp_path)
    run_cli("monitor", "run", "watch")
    page = tmp_path / "report.html"
    assert (
        "monitor report written to" in run_cli("monitor", "report", "watch", "-o", str(page)).stdout
    )
    data = tmp_path / "report.json"
    run_cli("monitors", "report", "watch", "-o", str(data))
    report = json.loads(data.read_text())
    assert report["monitor"] == "watch" and report["reference"] == "credit-train/1"
    assert [w["dataset_drift"] for w in report["windows"]] == [False, True]
    assert all(w["performance"]["accuracy"] > 0 for w in report["windows"])
    assert all(w["estimated"]["accuracy"] > 0 for w in report["windows"])
    assert [a["rule"] for a in report["alerts"]] == ["inputs-drift"]
    browser_page.open(page)
    browser_page.wait_for("document.querySelectorAll('.js-plotly-plot').length >= 3")
    traces = browser_page.evaluate(
        "document.getElementById('chart-performance-0').data.map(t => [t.name, t.y.length])"
    )
    assert traces == [["measured", 2], ["estimated (CBPE)", 2]]
    assert browser_page.errors == []
    assert browser_page.requests == []
