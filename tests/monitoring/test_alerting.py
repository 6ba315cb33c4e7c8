"""Alerts after a run: evaluated over the stored windows, stored and delivered once,
resolved when the rule stops holding, the rollback taken once (or refused, said why)."""

from __future__ import annotations

from typing import Any

import pytest

import keel
from keel.context import current_context
from keel.monitoring import create_monitor
from keel.monitoring._alerting import evaluate_and_act
from keel.monitoring._monitor_spec import parse_monitor_spec
from keel.monitoring._run import MonitorRun, window_values
from keel.store import MonitorResult

RULES = [
    {
        "name": "inputs-drift",
        "value": "drift.share_drifted",
        "operator": ">=",
        "threshold": 0.5,
        "for_windows": 2,
        "severity": "critical",
        "action": "rollback",
    }
]


class ListSink:
    """Keeps what it is given (a sink is anything with deliver and close)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def deliver(self, event: Any) -> None:
        self.events.append(event)

    def close(self, timeout: float | None = None) -> None:
        return None


def _result(window: int, share: float, version: str = "iris/2") -> MonitorResult:
    return MonitorResult(
        monitor="watch",
        window=f"rows:{window * 10}-{window * 10 + 10}",
        check="data_drift",
        status="drift" if share >= 0.5 else "ok",
        rows=10,
        values={"share_drifted": share, "columns.x.drifted": float(share >= 0.5)},
        model_versions=(version,),
    )


def _act(shares: list[float], start: int = 0) -> tuple[MonitorRun, ListSink]:
    ctx = current_context()
    monitor = ctx.store.monitors.get_monitor("watch")
    ctx.store.monitors.record_results(
        "watch", [_result(start + i, s) for i, s in enumerate(shares)], "ann"
    )
    run, sink = MonitorRun("watch"), ListSink()
    evaluate_and_act(ctx, monitor, parse_monitor_spec(monitor.spec), run, [sink])
    return run, sink


@pytest.fixture
def watched(client: Any, register_model: Any) -> None:
    from keel.serving import endpoints

    register_model()
    register_model()
    keel.models.promote("iris", 1, to="champion")
    keel.models.promote("iris", 2, to="champion")
    endpoints.create({"name": "iris", "targets": [{"model": "iris@champion"}]})
    create_monitor("watch", "iris", {"window": {"rows": 10}, "alerts": RULES})


def test_fire_once_roll_back_once_resolve(watched: None) -> None:
    run, sink = _act([0.1, 0.6])
    assert run.alerts == [] and sink.events == []  # one breaching window of the two needed
    run, sink = _act([0.7, 0.8], start=2)
    assert [(a.rule, a.window) for a in run.alerts] == [("inputs-drift", "rows:20-30")]
    assert [(e.status, e.window) for e in sink.events] == [("firing", "rows:20-30")]
    assert run.actions == [
        "alert inputs-drift: iris@champion rolled back from version 2 to version 1"
    ]
    assert keel.models.get("iris@champion").version == 1
    move = current_context().store.governance.latest_event("alias", "iris@champion", "alias.")
    assert move is not None and move.action == "alias.rollback"
    assert "monitor watch alert inputs-drift on window rows:20-30" in (move.reason or "")
    # nothing new: nothing delivered, nothing rolled back again
    run, sink = _act([])
    assert run.alerts == run.actions == sink.events == []
    assert keel.models.get("iris@champion").version == 1
    # the rule stops holding: the alert resolves, once
    run, sink = _act([0.1], start=4)
    assert [(a.rule, a.resolved_window) for a in run.resolved] == [("inputs-drift", "rows:40-50")]
    assert [(e.status, e.window) for e in sink.events] == [("resolved", "rows:40-50")]
    (alert,) = current_context().store.monitors.list_alerts("watch")
    assert not alert.active and alert.action_status == "done"
    run, sink = _act([])
    assert run.resolved == [] and sink.events == []


def test_a_rollback_that_cannot_happen_is_recorded_as_failed(
    client: Any, register_model: Any
) -> None:
    from keel.serving import endpoints

    register_model()
    keel.models.promote("iris", 1, to="champion")
    endpoints.create({"name": "iris", "targets": [{"model": "iris@champion"}]})
    create_monitor("watch", "iris", {"window": {"rows": 10}, "alerts": RULES})
    run, _ = _act([0.9, 0.9])
    assert len(run.alerts) == 1
    assert "rollback failed: iris@champion (version 1) has no previous holder" in run.actions[0]
    (alert,) = current_context().store.monitors.list_alerts("watch")
    assert alert.action_status == "failed" and "no previous holder" in (alert.action_detail or "")
    assert keel.models.get("iris@champion").version == 1
    assert _act([])[0].actions == []  # tried once, not on every run


def test_window_values_are_what_rules_read() -> None:
    results = [
        _result(0, 0.75),
        MonitorResult(
            "watch", "rows:0-10", "performance", "ok", 8,
            values={"accuracy": 0.9, "labelled_share": 0.8, "f1_macro": float("nan")},
        ),
        MonitorResult("watch", "rows:0-10", "estimated_performance", "empty", 10),
    ]  # fmt: skip
    assert window_values(results) == {
        "rows": 10,
        "drift": {"share_drifted": 0.75, "columns": {"x": {"drifted": 1.0}}},
        "performance": {"accuracy": 0.9, "labelled_share": 0.8},
    }
