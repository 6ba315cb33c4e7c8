"""``keel runs list`` and ``keel runs show`` as a user sees them, through the real console script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import keel

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )


def _header(out: str) -> list[str]:
    """The column names of the (first) table in ``out``."""
    line = next(line for line in out.splitlines() if "┃ id " in line)
    return [cell.strip() for cell in line.strip("┃ \n").split("┃")]


def _knn_runs(client: keel.Client) -> list[str]:
    ids = []
    for i in range(2):
        with keel.start_run(experiment="knn", run_name=f"knn-{i}") as run:
            keel.log_param("model", "knn")
            for k in (1600, 0, 400, 1200):
                keel.log_metric(f"k{k}", k / 2000 + i)
        ids.append(run.id)
    client.close()
    return ids


def test_runs_list_orders_metric_columns_with_numbers_as_numbers(client: keel.Client) -> None:
    _knn_runs(client)
    proc = run_cli("runs", "list", "--experiment", "knn")
    assert proc.returncode == 0, proc.stderr
    assert _header(proc.stdout)[6:] == ["k0", "k400", "k1200", "k1600"]


def test_runs_list_shows_the_searched_and_sorted_metrics_first(client: keel.Client) -> None:
    with keel.start_run(experiment="many"):
        keel.log_metrics({f"m{i}": float(i) for i in range(8)})
    client.close()
    proc = run_cli("runs", "list", "-f", "metrics.m6 >= 0", "-o", "metrics.m7 DESC")
    assert proc.returncode == 0, proc.stderr
    assert _header(proc.stdout)[6:] == ["m7", "m6", "m0", "m1"]
    assert "4 more metric(s)" in proc.stdout


def _metric_rows(out: str) -> list[str]:
    """The body rows of the ``metrics`` table of ``keel runs show``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "metrics")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("│"):
            break
        rows.append(line)
    return rows


def test_runs_show_draws_no_empty_column_in_the_metrics_table(client: keel.Client) -> None:
    (run_id, _) = _knn_runs(client)
    proc = run_cli("runs", "show", run_id)
    assert proc.returncode == 0, proc.stderr
    rows = _metric_rows(proc.stdout)
    assert all(row.count("│") == 3 for row in rows), rows  # key and value: two columns
    assert [row.split("│")[1].strip() for row in rows] == ["k0", "k400", "k1200", "k1600"]


def test_runs_show_keeps_the_bar_column_for_shap_importances(client: keel.Client) -> None:
    with keel.start_run(experiment="shap") as run:
        keel.log_metrics({"accuracy": 0.9, "shap.f2": 0.5, "shap.f10": 2.0})
    client.close()
    proc = run_cli("runs", "show", run.id)
    assert proc.returncode == 0, proc.stderr
    rows = _metric_rows(proc.stdout)
    assert all(row.count("│") == 4 for row in rows), rows
    bars = {row.split("│")[1].strip(): row.split("│")[3].count("█") for row in rows}
    assert bars["shap.f10"] == 24 and bars["shap.f2"] == 6 and bars["accuracy"] == 0


def test_a_filter_on_a_metric_no_run_has_names_the_nearest(client: keel.Client) -> None:
    _knn_runs(client)
    proc = run_cli("runs", "list", "--filter", "metrics.k40 > 0.9")
    assert proc.returncode == 1
    assert (
        proc.stderr
        == "error: no run in experiment 'knn' has a metric 'k40'; nearest: k400, k0, k1600\n"
    )
    assert proc.stdout == ""  # no empty table
    proc = run_cli("runs", "list", "-e", "knn", "--filter", "params.modle = 'knn'")
    assert proc.returncode == 1
    assert re.fullmatch(r"error: no run .* has a param 'modle'; nearest: model\n", proc.stderr)


def test_a_filter_that_matches_nothing_is_still_an_empty_table(client: keel.Client) -> None:
    _knn_runs(client)
    proc = run_cli("runs", "list", "--filter", "metrics.k400 > 5")
    assert proc.returncode == 0, proc.stderr
    assert "Runs (0)" in proc.stdout


def test_a_malformed_ordering_gets_the_ordering_hint_not_the_filter_one(keel_home: Path) -> None:
    proc = run_cli("runs", "list", "--order-by", "metrics.acc DESCX")
    assert proc.returncode == 1
    assert "write an ordering like metrics.accuracy DESC" in proc.stderr
    assert "write comparisons like" not in proc.stderr
