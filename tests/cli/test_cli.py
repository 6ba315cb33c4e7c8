"""The real ``keel`` console script, run as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import keel

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def two_runs(client) -> tuple[str, str]:
    ids = []
    for name, n, acc in (("forest", 100, 0.95), ("logreg", 10, 0.90)):
        with keel.start_run(experiment="demo", run_name=name) as run:
            keel.log_params({"model": name, "n": n, "seed": 0})
            keel.log_metric("accuracy", acc)
            keel.log_text("hi", "notes.txt")
        ids.append(run.id)
    client.close()
    return ids[0], ids[1]


def test_version() -> None:
    assert run_cli("--version").stdout.strip() == f"keel {keel.__version__}"


def test_runs_list_show_compare(two_runs: tuple[str, str]) -> None:
    rf, lr = two_runs
    out = run_cli("runs", "list", "--experiment", "demo").stdout
    assert "forest" in out and "logreg" in out and "FINISHED" in out
    out = run_cli("runs", "list", "--filter", "metrics.accuracy > 0.92").stdout
    assert "forest" in out and "logreg" not in out
    out = run_cli("runs", "show", rf[:8]).stdout
    assert rf in out and "accuracy" in out and "notes.txt" in out and "model" in out
    out = run_cli("runs", "compare", rf[:8], lr).stdout
    lines = out.splitlines()
    model_row = next(line for line in lines if "model" in line and "*" in line)
    assert "forest" in model_row and "logreg" in model_row  # differing param, marked
    seed_row = next(line for line in lines if "seed" in line)
    assert "*" not in seed_row  # equal values are not marked
    assert "accuracy" in out and "0.95" in out and "0.9" in out


def test_experiments_list(two_runs: tuple[str, str]) -> None:
    out = run_cli("experiments", "list").stdout
    assert "demo" in out and "2" in out


def test_unknown_run_is_one_line_with_nearest_matches(two_runs: tuple[str, str]) -> None:
    rf, _ = two_runs
    wrong = rf[:20] + "ffffffffffff"
    proc = run_cli("runs", "show", wrong, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: run")
    assert "nearest" in proc.stderr and rf in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(two_runs: tuple[str, str]) -> None:
    proc = run_cli("--debug", "runs", "show", "abc123", check=False)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_invalid_filter_points_at_the_position(two_runs: tuple[str, str]) -> None:
    proc = run_cli("runs", "list", "--filter", "metrics.accuracy >> 1", check=False)
    assert proc.returncode == 1 and "position" in proc.stderr and "^" in proc.stderr


def test_compare_needs_two_runs(two_runs: tuple[str, str]) -> None:
    proc = run_cli("runs", "compare", two_runs[0], check=False)
    assert proc.returncode == 1 and "at least two" in proc.stderr


def test_db_upgrade_and_doctor(keel_home: Path) -> None:
    out = run_cli("db", "upgrade").stdout
    assert "tracking_0003" in out and "lineage_0002" in out and "access_0001" in out
    assert (keel_home / "keel.db").exists()
    out = run_cli("doctor").stdout
    assert "metadata store" in out and "ok" in out and str(keel_home) in out


def test_bad_configuration_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_STORE_URI", "mysql://nope")
    proc = run_cli("runs", "list", check=False)
    assert (
        proc.returncode == 1 and "unknown scheme" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_unreachable_store_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_STORE_URI", "postgresql://nobody@127.0.0.1:1/none")
    proc = run_cli("runs", "list", check=False)
    assert proc.returncode == 1 and "cannot open the metadata store" in proc.stderr


def test_doctor_exits_1_when_a_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_STORE_URI", "postgresql://nobody@127.0.0.1:1/none")
    proc = run_cli("doctor", check=False)
    assert proc.returncode == 1 and "fail" in proc.stdout


def test_runs_download_writes_verified_files(two_runs: tuple[str, str], tmp_path: Path) -> None:
    rf, _ = two_runs
    out = run_cli("runs", "download", rf[:8], "notes.txt", "--dest", str(tmp_path / "dl")).stdout
    assert "1 file(s) written" in out
    assert (tmp_path / "dl" / "notes.txt").read_text() == "hi"
    proc = run_cli("runs", "download", rf[:8], "missing.txt", check=False)
    assert proc.returncode == 1 and "has no artifact" in proc.stderr


def test_runs_show_groups_metrics_and_shows_the_model_card(client) -> None:
    with keel.start_run(experiment="card") as run:
        keel.log_metrics(
            {
                "cv.accuracy_mean": 0.9,
                "test.accuracy": 0.88,
                "shap.mean_abs.petal": 2.0,
                "shap.mean_abs.sepal": 0.5,
            }
        )
        keel.log_text("# Model card: demo\n\nIntended use: teaching.", "model_card.md")
    client.close()
    out = run_cli("runs", "show", run.id).stdout
    assert "cross-validation" in out and "held-out test data" in out
    assert out.index("shap.mean_abs.petal") < out.index("shap.mean_abs.sepal")  # by importance
    assert "Model card: demo" in out and "Intended use: teaching." in out
    assert "Model card: demo" not in run_cli("runs", "show", run.id, "--no-card").stdout


def test_a_long_error_is_still_one_line(keel_home: Path) -> None:
    # a console that is not a terminal is 200 columns wide; the error must not wrap
    proc = run_cli("runs", "show", "f" * 240, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: run")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_doctor_masks_the_token_and_shows_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "c2VjcmV0LXRva2VuLWZvci1kb2N0b3I"
    monkeypatch.setenv("KEEL_TOKEN", f"keel_0123456789ab_{secret}")
    monkeypatch.setenv("KEEL_PROJECT", "fraud")
    proc = run_cli("doctor", check=False)
    assert secret not in proc.stdout + proc.stderr
    assert "keel_0123456789ab_***" in proc.stdout
    assert "fraud" in proc.stdout


def test_an_error_quoting_the_token_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "c2VjcmV0LXRva2VuLWluLWFuLWVycm9y"
    monkeypatch.setenv("KEEL_TOKEN", f"keel_0123456789ab_{secret}")
    proc = run_cli("models", "show", f"keel_0123456789ab_{secret}/1", check=False)
    assert proc.returncode == 1
    assert secret not in proc.stdout + proc.stderr
