"""keel_monitor_* gauges: values, bounded labels, scraped over real HTTP on 127.0.0.1."""

from __future__ import annotations

import math
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keel.errors import InvalidArgumentError
from keel.monitoring._alerts import AlertRule, AlertWindow, evaluate_alerts
from keel.monitoring._prometheus import MonitorMetrics, monitor_metric_names, serve_metrics


def _values(**drifted: bool) -> dict[str, Any]:
    columns = {
        name: {"statistic": 0.1 * i, "p_value": None, "score": 0.1 * i, "drifted": flag}
        for i, (name, flag) in enumerate(drifted.items())
    }
    return {
        "rows": 1500,
        "drift": {
            "share_drifted": sum(drifted.values()) / len(drifted),
            "dataset_drift": False,
            "drifted_columns": sum(drifted.values()),
            "tested_columns": len(drifted),
            "columns": columns,
        },
        "prediction_drift": {"share_drifted": 1.0, "columns": {"label": {"score": 0.4}}},
        "performance": {"accuracy": 0.91, "labelled_share": 0.25},
        "estimated": {"accuracy": 0.88},
    }


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(url, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted({"endpoint": "churn", "monitor": "inputs", **labels}.items())))


def test_gauges_over_a_real_metrics_endpoint() -> None:
    metrics = MonitorMetrics()
    end = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    metrics.set_window("churn", "inputs", _values(age=True, income=False), window_end=end)
    with serve_metrics(0, metrics.registry) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        got = _scrape(server.url)
    assert got[_key("keel_monitor_window_rows")] == 1500
    assert got[_key("keel_monitor_window_end_timestamp_seconds")] == end.timestamp()
    assert got[_key("keel_monitor_drift_share_drifted")] == 0.5
    assert got[_key("keel_monitor_drift_dataset_drift")] == 0.0
    assert got[_key("keel_monitor_drift_drifted_columns")] == 1
    assert got[_key("keel_monitor_drift_column_drifted", column="age")] == 1.0
    assert got[_key("keel_monitor_drift_column_statistic", column="income")] == 0.1
    assert _key("keel_monitor_drift_column_p_value", column="age") not in got  # None: absent
    assert got[_key("keel_monitor_prediction_drift_share_drifted")] == 1.0
    assert got[_key("keel_monitor_prediction_drift_column_score", column="label")] == 0.4
    assert got[_key("keel_monitor_performance", metric="accuracy")] == 0.91
    assert got[_key("keel_monitor_performance", metric="labelled_share")] == 0.25
    assert got[_key("keel_monitor_estimated_performance", metric="accuracy")] == 0.88
    assert got[_key("keel_monitor_drift_columns_over_limit")] == 0
    names = {name for name, _ in got}
    assert names <= set(monitor_metric_names())


def test_the_port_is_freed_and_a_busy_port_is_a_clear_error() -> None:
    metrics = MonitorMetrics()
    server = serve_metrics(0, metrics.registry)
    port = server.port
    server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(
            InvalidArgumentError, match=rf"cannot serve metrics on 127.0.0.1:{taken}"
        ):
            serve_metrics(taken, metrics.registry)
    with pytest.raises(InvalidArgumentError, match="metrics port must be a whole number"):
        serve_metrics(70000, metrics.registry)


def test_columns_are_capped_drifted_first() -> None:
    metrics = MonitorMetrics(max_columns=2)
    metrics.set_window("churn", "inputs", _values(a=False, b=True, c=False, d=True, e=False))
    text = metrics.exposition()[0].decode()
    got = {
        (s.name, s.labels.get("column")): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    columns = {c for (name, c) in got if name == "keel_monitor_drift_column_drifted"}
    assert columns == {"b", "d"}
    assert got[("keel_monitor_drift_columns_over_limit", None)] == 3


def test_a_new_window_replaces_the_old_series() -> None:
    metrics = MonitorMetrics()
    metrics.set_window("churn", "inputs", _values(age=True, income=False))
    metrics.set_window("churn", "inputs", {"rows": 10, "drift": {"columns": {"zip": {"score": 1}}}})
    text = metrics.exposition()[0].decode()
    assert 'column="age"' not in text and 'column="zip"' in text
    assert "keel_monitor_performance{" not in text  # no labels in this window
    metrics.set_window("churn", "other", {"rows": 3})
    metrics.remove("churn", "inputs")
    text = metrics.exposition()[0].decode()
    assert 'monitor="inputs"' not in text and 'monitor="other"' in text


def test_nan_is_no_value_and_infinity_is_kept() -> None:
    metrics = MonitorMetrics()
    values = {"drift": {"columns": {"x": {"statistic": math.inf, "score": math.nan}}}}
    metrics.set_window("e", "m", values)
    text = metrics.exposition()[0].decode()
    assert 'keel_monitor_drift_column_statistic{column="x",endpoint="e",monitor="m"} +Inf' in text
    assert "keel_monitor_drift_column_score{" not in text
    with pytest.raises(TypeError, match="rows must be a number, not 'many'"):
        metrics.set_window("e", "m", {"rows": "many"})


def test_metric_names_are_capped() -> None:
    metrics = MonitorMetrics(max_metrics=3)
    metrics.set_window("e", "m", {"performance": {f"m{i}": 0.5 for i in range(10)}})
    text = metrics.exposition()[0].decode()
    assert text.count("keel_monitor_performance{") == 3
    with pytest.raises(InvalidArgumentError, match="max_columns must be a whole number >= 1"):
        MonitorMetrics(max_columns=0)


def test_alert_firing_gauge_follows_the_evaluation() -> None:
    rules = [
        AlertRule(name="drifting", value="drift.share_drifted", operator=">=", threshold=0.5,
                  severity="critical"),
        AlertRule(name="accuracy", value="performance.accuracy", operator="<", threshold=0.8),
    ]  # fmt: skip
    windows = [AlertWindow(key="w0", values=_values(a=True, b=True))]
    states = evaluate_alerts(rules, windows).states
    metrics = MonitorMetrics()
    metrics.set_alerts("churn", "inputs", rules, states)
    with serve_metrics(0, metrics.registry) as server:
        got = _scrape(server.url)
    firing = _key("keel_monitor_alert_firing", alert="drifting", severity="critical")
    quiet = _key("keel_monitor_alert_firing", alert="accuracy", severity="warning")
    assert got[firing] == 1.0 and got[quiet] == 0.0
    metrics.set_alerts("churn", "inputs", rules[1:], states)  # a rule was removed
    assert 'alert="drifting"' not in metrics.exposition()[0].decode()


def test_exposed_beside_the_serving_metrics_on_one_registry() -> None:
    from keel.serving._metrics import ServingMetrics

    serving = ServingMetrics()
    metrics = MonitorMetrics(registry=serving.registry)
    metrics.set_window("churn", "inputs", _values(age=True))
    serving.requests.labels("churn", "/predict", "m/1", "2xx").inc()
    text = serving.exposition()[0].decode()
    assert "keel_requests_total{" in text and "keel_monitor_drift_share_drifted{" in text
    # a second owner of the same names is refused by the registry
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        MonitorMetrics(registry=serving.registry)


def test_a_scrape_never_sees_half_a_window() -> None:
    metrics = MonitorMetrics()
    stop = threading.Event()

    def writer() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            cols = {f"c{i}": {"statistic": float(k)} for i in range(30)}
            metrics.set_window("e", "m", {"rows": k, "drift": {"columns": cols}})
            time.sleep(0.0002)  # let the scraper run too (the GIL)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with serve_metrics(0, metrics.registry) as server:
            for _ in range(15):
                got = _scrape(server.url)
                values = {v for (name, _), v in got.items() if name.startswith("keel_monitor_")
                          and name != "keel_monitor_drift_columns_over_limit"}  # fmt: skip
                assert len(values) <= 1, values  # rows and every column from one window
    finally:
        stop.set()
        thread.join()
