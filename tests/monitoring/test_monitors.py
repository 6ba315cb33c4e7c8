"""Monitor runs over a real prediction log: incremental, idempotent, reference through
lineage, stored once, time and row windows, performance after ``lateness``."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from keel.context import current_context
from keel.errors import ConflictError, NotFoundError
from keel.monitoring import (
    MonitorSpecError,
    create_monitor,
    list_monitors,
    monitor_results,
    run_monitor,
)
from keel.store import LineageNode
from monitoring.monitored import frame, labels_of, make_models, send

pytestmark = pytest.mark.timeout(120)


def test_runs_are_incremental_idempotent_and_find_the_reference(client: Any) -> None:
    rng = np.random.default_rng(3)
    make_models(rng)
    create_monitor("watch", "credit", {"window": {"rows": 100}, "grace": "1ms"})
    sent = send([frame(rng, 250)])
    first = run_monitor("watch")
    windows = sorted({(r.start, r.window) for r in first.computed})
    assert [w for _, w in windows] == ["rows:0-100", "rows:100-200"]
    checks = sorted({r.check for r in first.computed})
    assert checks == ["data_drift", "estimated_performance", "prediction_drift"]
    assert first.waiting == ["rows:0-100", "rows:100-200"]  # lateness 1h
    drift = [r for r in first.computed if r.check == "data_drift"]
    assert all(r.status == "ok" and r.reference == "credit-train/1" for r in drift)
    assert all(r.model_versions == ("credit/2",) for r in drift)
    # the reference sketch and the model's reference are stored, behind lineage edges
    store = current_context().store
    train = store.datasets.get_version("credit-train", 1)
    down = store.lineage.downstream(LineageNode("dataset_version", train.id), max_depth=1)
    assert [e.relation for e in down.edges if e.target.kind == "reference_sketch"] == [
        "sketched_as"
    ]
    # nothing new: nothing stored
    seq = store.governance.head().seq
    again = run_monitor("watch")
    assert again.computed == [] and store.governance.head().seq == seq
    # the log grows: only the new window
    send([frame(rng, 60)])
    third = run_monitor("watch")
    assert sorted({r.window for r in third.computed}) == ["rows:200-300"]
    assert len(monitor_results("watch", "data_drift")) == 3
    # performance once lateness has passed after the windows closed
    send([], feedback=labels_of(sent))
    later = run_monitor("watch", now_ms=int(time.time() * 1000) + 3_700_000)
    performance = {r.window: r for r in later.computed if r.check == "performance"}
    assert sorted(performance) == ["rows:0-100", "rows:100-200", "rows:200-300"]
    assert performance["rows:0-100"].values["labelled_share"] == 1.0
    assert performance["rows:200-300"].values["labelled_share"] == pytest.approx(0.5)
    assert performance["rows:0-100"].values["accuracy"] > 0.8
    # an estimate stands beside each real value
    estimated = {
        r.window: r.values["accuracy"] for r in monitor_results("watch", "estimated_performance")
    }
    assert abs(estimated["rows:0-100"] - performance["rows:0-100"].values["accuracy"]) < 0.15


def test_time_windows_and_empty_ones(client: Any) -> None:
    rng = np.random.default_rng(4)
    make_models(rng, versions=1)
    create_monitor(
        "hourly", "credit", {"window": {"every": "1h"}, "checks": ["data_drift"], "grace": "1s"}
    )
    send([frame(rng, 40)])
    hour = 3_600_000
    now = int(time.time() * 1000)
    end = (now // hour + 1) * hour
    assert run_monitor("hourly", now_ms=now).computed == []  # the hour is not over
    run = run_monitor("hourly", now_ms=end + 2 * hour + 2000)
    results = monitor_results("hourly")
    assert [r.window for r in results] == [
        f"time:{end - hour}-{end}",
        f"time:{end}-{end + hour}",
        f"time:{end + hour}-{end + 2 * hour}",
    ]
    assert [(r.status, r.rows) for r in results] == [("ok", 40), ("empty", 0), ("empty", 0)]
    assert results[1].message == "no predictions"
    assert len(run.computed) == 3


def test_a_model_without_lineage_needs_an_explicit_reference(client: Any) -> None:
    from keel.monitoring import MonitorReferenceError

    rng = np.random.default_rng(5)
    make_models(rng, lineage=False, versions=1)
    create_monitor("watch", "credit", {"window": {"rows": 50}, "grace": "1ms"})
    send([frame(rng, 60)])
    seq = current_context().store.governance.head().seq
    with pytest.raises(MonitorReferenceError, match="records no training dataset"):
        run_monitor("watch")
    assert monitor_results("watch") == []
    assert current_context().store.governance.head().seq == seq
    create_monitor(
        "watch",
        "credit",
        {
            "window": {"rows": 50},
            "grace": "1ms",
            "reference": {"dataset": "credit-train/1", "target": "y"},
        },
        replace=True,
    )
    run = run_monitor("watch")
    assert {r.check: r.status for r in run.computed} == {
        "data_drift": "ok",
        "prediction_drift": "ok",
        "estimated_performance": "ok",
    }


def test_creating_monitors_checks_the_spec_and_the_endpoint(client: Any) -> None:
    rng = np.random.default_rng(6)
    make_models(rng, versions=1)
    with pytest.raises(NotFoundError, match="endpoint 'nope' does not exist"):
        create_monitor("w", "nope", {"window": {"rows": 10}})
    for spec, message in (
        ({}, "window: required"),
        ({"window": {"rows": 10, "every": "5m"}}, "exactly one of rows"),
        ({"window": {"every": "soon"}}, "'soon' is not a duration"),
        ({"window": {"rows": 10}, "chekcs": []}, "chekcs: unknown field"),
        ({"window": {"rows": 10}, "checks": ["vibes"]}, "checks.0"),
        ({"window": {"rows": 10}, "lateness": "-1h"}, "not a duration"),
        (
            {
                "window": {"rows": 10},
                "alerts": [{"name": "a", "value": "drift.nope", "operator": ">", "threshold": 1}],
            },
            "not a value path",
        ),
        ({"window": {"rows": 10}, "reference": {"dataset": "a/1", "sketch": "b"}}, "exactly one"),
    ):
        with pytest.raises(MonitorSpecError, match=message):
            create_monitor("w", "credit", spec)
    assert list_monitors() == []
    create_monitor("w", "credit", {"window": {"rows": 10}})
    with pytest.raises(ConflictError, match="exists"):
        create_monitor("w", "credit", {"window": {"rows": 20}})
    assert create_monitor("w", "credit", {"window": {"rows": 20}}, replace=True).revision == 2


def test_a_run_resuming_late_in_the_log_sees_the_same_windows(client: Any) -> None:
    """Row windows resume from the row they need (a DuckDB count over the log, no JSON);
    what they compute equals what a monitor reading the whole log computes."""
    rng = np.random.default_rng(8)
    make_models(rng, versions=1)
    spec = {"window": {"rows": 50}, "checks": ["data_drift"], "grace": "1ms"}
    create_monitor("early", "credit", spec)
    send([frame(rng, 120)], rows=7)
    assert [r.window for r in run_monitor("early", sinks=[]).computed] == [
        "rows:0-50",
        "rows:50-100",
    ]
    send([frame(rng, 90, shifted=True)], rows=7)
    from keel.monitoring._windows import row_offset

    since, offset = row_offset(current_context(), "credit", None, 2**62, 100)
    assert since is not None and 0 < offset <= 100  # from (about) the request holding row 100
    late = run_monitor("early", sinks=[]).computed
    assert [r.window for r in late] == ["rows:100-150", "rows:150-200"]
    create_monitor("fresh", "credit", spec)
    fresh = {r.window: r for r in run_monitor("fresh", sinks=[]).computed}
    for r in late:
        assert r.values == fresh[r.window].values
        assert r.details["logged"] == fresh[r.window].details["logged"]
