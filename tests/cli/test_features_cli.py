"""``keel features apply|diff|list|show``, run as the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from keel.data import register as register_dataset

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"

DECLARATIONS = """\
entities:
  - name: customer
    join_keys: {customer_id: int64}
feature_views:
  - name: spend
    entities: [customer]
    timestamp: ts
    ttl: 7d
    source: {dataset: transactions}
    features: {amount: float64}
feature_services:
  - name: churn
    features: [spend:amount]
"""


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_apply_diff_list_show(keel_home: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "amount": [1.0, 2.0],
        }
    )
    register_dataset(frame, "transactions")
    path = tmp_path / "features.yaml"
    path.write_text(DECLARATIONS)
    diff = run_cli("features", "diff", str(path))
    assert "+ feature view spend" in diff.stdout and "3 added" in diff.stdout
    applied = run_cli("features", "apply", str(path), "--reason", "first")
    assert "+ feature view spend  -> version 1" in applied.stdout
    path.write_text(DECLARATIONS.replace("ttl: 7d", "ttl: 1d").split("feature_services:")[0])
    diff = run_cli("features", "diff", str(path), "--json")
    changes = {c["name"]: c for c in json.loads(diff.stdout)["changes"]}
    assert changes["spend"]["action"] == "change" and changes["spend"]["fields"] == ["ttl"]
    assert changes["churn"]["action"] == "remove"
    applied = run_cli("features", "apply", str(path), "--prune")
    assert "~ feature view spend (ttl)  -> version 2" in applied.stdout
    assert "- feature service churn  -> version 2" in applied.stdout
    listed = json.loads(run_cli("features", "list", "--json").stdout)
    assert [(d["kind"], d["name"], d["version"]) for d in listed] == [
        ("entity", "customer", 1),
        ("feature_view", "spend", 2),
    ]
    shown = run_cli("features", "show", "spend")
    assert "feature view spend version 2" in shown.stdout and "ttl: 1d" in shown.stdout
    history = json.loads(run_cli("features", "show", "spend", "--history", "--json").stdout)
    assert [h["version"] for h in history] == [1, 2]
    missing = run_cli("features", "show", "spnd", check=False)
    assert (
        missing.returncode != 0
        and "registered: entity customer, feature view spend" in missing.stderr
    )
    verify = run_cli("audit", "verify")
    assert "intact" in verify.stdout


def test_a_bad_file_names_the_line_and_registers_nothing(keel_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(DECLARATIONS.replace("    ttl: 7d\n", "    ttl: 7d\n    colour: red\n"))
    failed = run_cli("features", "apply", str(path), check=False)
    assert failed.returncode != 0
    assert f"{path} line 9: feature view 'spend', colour: unknown key 'colour'" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert json.loads(run_cli("features", "list", "--json").stdout) == []
