"""The README's quickstart (``make demo``) runs and leaves two comparable runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keel

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_trains_two_tracked_models(keel_home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart" / "train_iris.py")],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Run comparison" in proc.stdout and "keel runs compare" in proc.stdout
    df = keel.search_runs("iris-quickstart", order_by=["metrics.test_accuracy DESC"])
    assert list(df["run_name"]) == ["random-forest", "logistic-regression"]
    assert (df["metrics.test_accuracy"] > 0.8).all()
    client = keel.Client()
    names = {a.path for a in client.list_artifacts(df.run_id[0])}
    assert {"plots/confusion_matrix.png", "model/model.skops", "model/keel-model.json"} <= names
    assert len(client.get_metric_history(df.run_id[0], "cv_accuracy")) == 5
    client.close()
