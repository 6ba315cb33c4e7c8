"""examples/07-registry runs end to end; then the CLI finds tampering in the audit log."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "07-registry" / "registry_demo.py"
KEEL = Path(sys.executable).with_name("keel")


def _keel(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KEEL), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_registry_example_then_cli(keel_home: Path) -> None:
    cwd = keel_home.parent
    env = {**os.environ, "KEEL_HOME": str(keel_home), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "refused iris/2:" in out and "fail  metric: f1_macro >= 0.9" in out
    assert "iris@champion rolled back from version 3 to version 1" in out
    assert "audit chain intact" in out and "state matches the chain" in out
    anchor = out.split("$ keel audit head\n", 1)[1].splitlines()[0]
    assert len(anchor.split(":")[0]) == 64
    # keel lineage iris@champion leads back to the raw CSV.
    assert "trained_on dataset_version iris-train/1" in out
    assert "ingested_into source iris.csv" in out

    shown = _keel("models", "show", "iris@champion", "--json", cwd=cwd, env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"version": 1' in shown.stdout and '"aliases": [\n    "champion"' in shown.stdout
    listed = _keel("audit", "list", "--object", "iris@champion", "--json", cwd=cwd, env=env)
    assert listed.stdout.count('"action": "alias.') == 3
    assert '"action": "promotion.reject"' in listed.stdout
    check = _keel("models", "load-check", "iris@champion", cwd=cwd, env=env)
    assert check.returncode == 0 and "passes the load check" in check.stdout

    bad = _keel(
        "models",
        "promote",
        "iris/2",
        "--to",
        "champion",
        "--policy",
        str(SCRIPT.with_name("policy.yaml")),
        cwd=cwd,
        env=env,
    )
    assert bad.returncode == 1 and "was not promoted" in bad.stderr
    noop = _keel(
        "models",
        "promote",
        "iris/1",
        "--to",
        "champion",
        "--policy",
        str(SCRIPT.with_name("policy.yaml")),
        cwd=cwd,
        env=env,
    )
    assert noop.returncode == 0 and "already holds iris@champion" in noop.stdout
    unknown = _keel("models", "show", "iris@prod", cwd=cwd, env=env)
    assert unknown.returncode == 1 and "its aliases are: champion" in unknown.stderr

    # The head printed by the example is an ancestor of the head now: events were appended.
    anchored = _keel("audit", "verify", "--expect", anchor, cwd=cwd, env=env)
    assert anchored.returncode == 0 and "event(s) were appended since" in anchored.stdout
    with sqlite3.connect(keel_home / "keel.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4")
    broken = _keel("audit", "verify", cwd=cwd, env=env)
    assert broken.returncode == 1
    assert "audit chain BROKEN at event #4" in broken.stderr
    assert "Traceback" not in broken.stderr
