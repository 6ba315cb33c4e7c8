"""keel.monitoring.drift: Evidently's default tests, overrides, every kind of input, the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

import keel.monitoring
from keel.monitoring import DriftInputError, DriftReport, DriftTest, ReferenceSketch, drift


def _frames(n: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "num": rng.normal(shift, 1, n),
            "few": rng.integers(0, 4, n).astype(float),  # float with at most 5 values
            "code": rng.integers(0, 3, n),  # integer, <= 10 values: categorical
            "city": rng.choice(["oslo", "lima", "pune"], n),
            "flag": rng.choice(
                ["up", "down"], n
            ),  # not yes/no: a CSV sniffer reads those as booleans
        }
    )


def test_public_surface_is_pinned() -> None:
    assert set(keel.monitoring.__all__) == {
        "CategoricalSketch", "CategoryChange", "ColumnDistribution", "ColumnDrift",
        "DriftInputError", "DriftReport", "DriftTest", "NullRateChange", "NumericSketch",
        "ReferenceSketch", "SketchFormatError", "TESTS", "UnsupportedColumn", "drift",
        "write_html_report",
        # alerts, sinks, gauges, monitor reports
        "AlertEvaluation", "AlertEvent", "AlertRule", "AlertRuleError", "AlertSink",
        "AlertState", "AlertWindow", "LogSink", "MetricsServer", "MonitorMetrics",
        "MonitorReportData", "ReportAlert", "ReportColumn", "ReportDistribution",
        "ReportWindow", "WebhookSink", "WebhookStats", "drift_values", "evaluate_alerts",
        "lookup_value", "parse_alert_rules", "render_monitor_report", "serve_metrics",
        "write_monitor_report", "AlertSinkError", "LogSinkSpec", "SinkSpec", "WebhookSinkSpec",
        "open_sink", "parse_sinks",
        # monitors of endpoints
        "Calibration", "LabelError", "MonitorReferenceError", "MonitorRun", "MonitorSpec",
        "MonitorSpecError", "ReferenceSpec", "WindowSpec", "create_monitor", "delete_monitor",
        "get_monitor", "list_monitors", "monitor_alerts", "monitor_results",
        "parse_monitor_spec", "run_monitor", "run_monitor_every",
    }  # fmt: skip
    for name in keel.monitoring.__all__:
        assert getattr(keel.monitoring, name) is not None


def test_small_reference_gets_hypothesis_tests() -> None:
    report = drift(_frames(800), _frames(700, seed=1))
    tests = {c.column: (c.column_type, c.test, c.threshold) for c in report.columns}
    assert tests == {
        "num": ("numeric", "ks", 0.05),
        "few": ("numeric", "chisquare", 0.05),
        "code": ("categorical", "chisquare", 0.05),
        "city": ("categorical", "chisquare", 0.05),
        "flag": ("categorical", "z", 0.05),
    }
    num = report["num"]
    ref, cur = _frames(800)["num"], _frames(700, seed=1)["num"]
    expected = stats.ks_2samp(ref, cur)
    assert num.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert num.p_value == pytest.approx(expected.pvalue, abs=1e-12) and num.score == num.p_value
    assert (num.reference_size, num.current_size) == (800, 700)


def test_large_reference_gets_distances() -> None:
    report = drift(_frames(5_000), _frames(4_000, seed=1, shift=0.5))
    tests = {c.column: c.test for c in report.columns}
    assert tests == {
        "num": "wasserstein",
        "few": "jensenshannon",
        "code": "jensenshannon",
        "city": "jensenshannon",
        "flag": "jensenshannon",
    }
    num = report["num"]
    ref, cur = _frames(5_000)["num"], _frames(4_000, seed=1, shift=0.5)["num"]
    assert num.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), abs=1e-9)
    assert num.drifted and report.drifted_columns == ("num",)
    assert report.drift_share == pytest.approx(0.2) and not report.dataset_drift


def test_dataset_drift_at_the_share_threshold() -> None:
    ref, cur = _frames(2_000), _frames(2_000, seed=3, shift=1.0)
    cur["city"] = "oslo"
    report = drift(ref, cur, columns=["num", "city", "flag", "few"])
    assert report.drifted_columns == ("num", "city") and report.drift_share == 0.5
    assert report.dataset_drift  # 50% reaches the default 0.5
    assert not drift(
        ref, cur, columns=["num", "city", "flag", "few"], drift_share=0.75
    ).dataset_drift


def test_tests_and_thresholds_can_be_overridden_per_column() -> None:
    ref, cur = _frames(3_000), _frames(3_000, seed=2, shift=0.05)
    report = drift(
        ref,
        cur,
        tests={"num": DriftTest("psi", threshold=0.2), "city": "chi2", "*": "jensenshannon"},
    )
    assert report["num"].test == "psi" and report["num"].threshold == 0.2
    assert report["num"].band == "none"
    assert report["city"].test == "chi2_contingency" and report["city"].p_value is not None
    assert report["flag"].test == "jensenshannon"
    assert drift(ref, cur, tests="ks")["num"].test == "ks"
    ks = drift(ref, cur, tests={"num": DriftTest("ks", threshold=1.0)})["num"]
    assert ks.drifted  # every p-value is <= 1


def test_a_test_that_does_not_fit_the_column_is_skipped_with_a_reason() -> None:
    report = drift(_frames(3_000), _frames(3_000, seed=1), tests={"city": "ks"})
    assert report["city"].skipped is not None and "needs numbers" in report["city"].skipped
    assert "city" not in report.tested_columns


@pytest.mark.parametrize("bad", [{"num": "nope"}, {"num": DriftTest}, 3, {"zzz": "ks"}])
def test_bad_tests_are_refused(bad: object) -> None:
    with pytest.raises((DriftInputError, TypeError)):
        drift(_frames(50), _frames(50), tests=bad)


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(DriftInputError, match="threshold of test 'psi'"):
        DriftTest("psi", threshold=-1)
    with pytest.raises(DriftInputError, match="drift_share"):
        drift(_frames(50), _frames(50), drift_share=0)


def test_every_kind_of_input(tmp_path: Path) -> None:
    import polars as pl

    ref, cur = _frames(1_500), _frames(1_500, seed=4, shift=0.3)
    expected = drift(ref, cur).to_dict()["columns"]
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    pq.write_table(pa.Table.from_pandas(cur), tmp_path / "cur.parquet", row_group_size=100)
    (tmp_path / "ref.keelsketch").write_bytes(ReferenceSketch.from_table(ref).to_bytes())
    inputs = [
        (tmp_path / "ref.parquet", tmp_path / "cur.csv"),
        (str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet")),
        (pa.Table.from_pandas(ref), pl.from_pandas(cur)),
        (tmp_path / "ref.keelsketch", cur),
        (ReferenceSketch.from_table(tmp_path / "ref.parquet"), cur),
    ]
    for reference, current in inputs:
        got = drift(reference, current).to_dict()["columns"]
        for a, b in zip(got, expected, strict=True):
            assert (a["column"], a["test"], a["drifted"]) == (b["column"], b["test"], b["drifted"])
            assert a["score"] == pytest.approx(b["score"], abs=1e-9)


def test_dataset_references(client: object) -> None:
    import keel

    ref, cur = _frames(1_200), _frames(1_200, seed=4, shift=0.4)
    keel.datasets.register(ref, "train-data")
    v = keel.datasets.register(cur, "today")
    report = drift("train-data/1", v)
    assert report.reference == "train-data/1" and report.current == "today/1"
    assert report["num"].drifted
    with pytest.raises(keel.KeelError, match="no-such"):
        drift("no-such/1", cur)


def test_report_round_trips_through_json() -> None:
    ref, cur = _frames(900), _frames(900, seed=2, shift=0.3)
    cur.loc[:40, "num"] = np.nan
    cur["city"] = cur["city"].replace("pune", "rome")
    report = drift(ref, cur)
    text = report.to_json()
    assert "Infinity" not in text and "NaN" not in text  # strict JSON
    data = json.loads(text)
    assert data["columns"][3]["statistic"] == "inf"  # chi-squared with a new category
    again = DriftReport.from_dict(data)
    assert again == report
    assert again.category_changes[0].new == ("rome",)
    assert again.category_changes[0].vanished == ("pune",)
    assert again.null_rate_changes[0].current_nulls == 41


def test_distributions_share_bins() -> None:
    report = drift(_frames(2_000), _frames(2_000, seed=1))
    by_column = {d.column: d for d in report.distributions}
    num = by_column["num"]
    assert num.kind == "histogram" and len(num.edges) == len(num.reference) + 1
    assert sum(num.reference) == pytest.approx(1.0) and sum(num.current) == pytest.approx(1.0)
    assert by_column["city"].kind == "categories" and set(by_column["city"].labels) == {
        "oslo",
        "lima",
        "pune",
    }
