"""examples/08-features runs end to end: declare, apply, historical features, train,
register, materialize, serve with online features, zero skew, lineage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "08-features" / "features_demo.py"


@pytest.mark.slow
def test_features_example(keel_home: Path) -> None:
    cwd = keel_home.parent
    env = {**os.environ, "KEEL_HOME": str(keel_home), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "4 added, 0 changed, 0 removed, 0 unchanged" in out
    assert "+ feature view activity  -> version 1" in out
    assert "historical features: 2000 rows" in out
    assert "registered churn-training/1 (2000 rows)" in out
    assert "served 20 predictions from churn/1" in out
    assert "training/serving skew: 0 of 100 values differ" in out
    # the lineage: sources -> views -> training data -> run -> model -> endpoint
    assert "features_into feature_view activity v1" in out
    assert "source_of dataset_version customer-activity/1" in out
    assert "entities_into dataset_version churn-events/1" in out
    assert "served_by endpoint churn" in out
