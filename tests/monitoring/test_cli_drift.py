"""``keel drift`` as a user runs it: the table, --json, --html, errors and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.monitoring import DriftReport, drift, write_html_report

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def _keel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, "drift", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 3_000
    ref = pd.DataFrame({"age": rng.normal(40, 10, n), "city": rng.choice(["oslo", "lima"], n)})
    cur = pd.DataFrame(
        {"age": rng.normal(48, 10, n), "city": rng.choice(["oslo", "lima", "rome"], n)}
    )
    cur.loc[:99, "age"] = np.nan
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path / "ref.parquet", tmp_path / "cur.csv"


def test_table_output(files: tuple[Path, Path]) -> None:
    proc = _keel(str(files[0]), str(files[1]))
    assert proc.returncode == 0, proc.stderr
    assert "wasserstein" in proc.stdout and "DRIFT" in proc.stdout
    assert "dataset drift: 2 of 2 tested columns drifted" in proc.stdout
    assert (
        "categories city: 1 new" in proc.stdout and "null rate age: 0.00% -> 3.33%" in proc.stdout
    )


def test_json_output_is_the_report(files: tuple[Path, Path]) -> None:
    proc = _keel(
        str(files[0]), str(files[1]), "--json", "--columns", "age", "--test", "age=psi:0.3"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    report = DriftReport.from_dict(data)
    assert [c.column for c in report.columns] == ["age"]
    assert report["age"].test == "psi" and report["age"].threshold == 0.3


def test_fail_on_drift_and_errors(files: tuple[Path, Path], tmp_path: Path) -> None:
    assert _keel(str(files[0]), str(files[1]), "--fail-on-drift").returncode == 3
    missing = _keel(str(files[0]), str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = _keel(str(files[0]), str(files[1]), "--test", "age")
    assert bad.returncode == 1 and "COLUMN=TEST[:THRESHOLD]" in bad.stderr


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.charts = 0
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        self.links += [v for k, v in a.items() if k in ("src", "href") and v]
        if tag == "script":
            self.scripts.append(a)
        if tag == "div" and (a.get("id") or "").startswith("chart-"):
            self.charts += 1


def test_html_report_is_one_static_page(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "drift.html"
    proc = _keel(str(files[0]), str(files[1]), "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    page = _Page()
    page.feed(text)
    page.close()
    assert page.links == []  # nothing fetched from anywhere: plotly.js is inline
    assert all("src" not in s for s in page.scripts)
    assert "Plotly.newPlot" in text and "plotly.js" in text.lower()
    report = drift(files[0], files[1])
    assert page.charts == len(report.distributions) == 2
    start = text.index('id="keel-drift-data">') + len('id="keel-drift-data">')
    embedded = json.loads(text[start : text.index("</script>", start)])
    assert embedded == json.loads(report.to_json())


def test_html_escapes_column_names(tmp_path: Path) -> None:
    frame = pd.DataFrame({"<script>alert(1)</script>": np.arange(100.0)})
    path = write_html_report(drift(frame, frame), tmp_path / "x.html")
    text = path.read_text()
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
