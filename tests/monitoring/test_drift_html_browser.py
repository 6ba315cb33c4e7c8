"""``keel drift --html``: the page a user gets renders in headless Chromium, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def test_the_drift_page_renders_in_chromium(tmp_path: Path, browser_page: Any) -> None:
    rng = np.random.default_rng(0)
    n = 2_000
    ref = pd.DataFrame(
        {"age": rng.normal(40, 10, n), "city": rng.choice(["oslo", "lima"], n),
         "score": rng.uniform(0, 1, n)}
    )  # fmt: skip
    cur = pd.DataFrame(
        {"age": rng.normal(47, 10, n), "city": rng.choice(["oslo", "lima", "rome"], n),
         "score": rng.uniform(0, 1, n)}
    )  # fmt: skip
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    out = tmp_path / "drift.html"
    proc = subprocess.run(
        [KEEL, "drift", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet"),
         "--html", str(out)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    browser_page.open(out)
    browser_page.wait_for("document.querySelectorAll('.js-plotly-plot').length === 3")
    for i, column in enumerate(["age", "city", "score"]):
        assert browser_page.attribute(f"#chart-{i}", "aria-label") == column
        assert browser_page.count(f"#chart-{i} .main-svg") >= 1
        names = browser_page.evaluate(f"document.getElementById('chart-{i}').data.map(t => t.name)")
        assert names == ["reference", "current"]
    # the categories, a new one included, as bars of both sides
    shown = browser_page.evaluate("document.getElementById('chart-1').data[1].x")
    assert shown == ["oslo", "lima", "rome"]
    assert "dataset drift" in browser_page.text("h1")
    assert browser_page.errors == []
    assert browser_page.requests == []
