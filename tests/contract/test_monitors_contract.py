"""The MonitorStore contract on every backend (the ``store`` fixture).

Monitors: create, update and delete with optimistic revisions, audited, with the
lineage edge endpoint -> monitor, a change sent twice stored once. Results: immutable
and idempotent on (monitor, window, check), malformed ones refused with nothing stored.
Alerts: idempotent on (monitor, rule, window), the action claimed by exactly one caller,
resolved once; every step in the audit log.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.governance._verify import verify_store
from keel.store import AlertDraft, LineageNode, MonitorResult, Store

SPEC: dict[str, Any] = {
    "window": {"kind": "rows", "size": 100},
    "checks": ["data_drift", "prediction_drift", "performance"],
    "reference": "auto",
    "alerts": [
        {"name": "drift", "metric": "data_drift.share_drifted", "op": ">", "threshold": 0.5}
    ],
}

W1, W2 = "rows:0-100", "rows:100-200"


def recorded(store: Any, actor: str) -> str:
    return str(getattr(store, "authenticated_user", actor))


def _sql(store: Any, statement: str, **params: Any) -> None:
    with store.database.engine.begin() as conn:
        conn.execute(sa.text(statement), {"project": store.project, **params})


def result(window: str = W1, check: str = "data_drift", **kw: Any) -> MonitorResult:
    fields: dict[str, Any] = {
        "monitor": "iris-drift",
        "window": window,
        "check": check,
        "status": "ok",
        "rows": 100,
        "values": {"share_drifted": 0.25, "drift.sepal_length": 0.03, "p": math.nan},
        "details": {"columns": [{"name": "sepal_length", "drifted": False}]},
        "model_versions": ("iris/1",),
        "reference": "iris-train/1",
    }
    fields.update(kw)
    return MonitorResult(**fields)


def draft(window: str = W2, **kw: Any) -> AlertDraft:
    fields: dict[str, Any] = {
        "rule": "drift",
        "window": window,
        "severity": "critical",
        "metric": "data_drift.share_drifted",
        "value": 0.75,
        "condition": "> 0.5 for 1 window",
        "message": "half the columns drifted",
        "action": "rollback",
    }
    fields.update(kw)
    return AlertDraft(**fields)


def test_create_get_list_update_delete(store: Store) -> None:
    created = store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann", reason="watch")
    assert (created.revision, created.endpoint, created.spec) == (1, "iris", SPEC)
    assert created.created_by == recorded(store, "ann") and created.reason == "watch"
    assert store.monitors.get_monitor("iris-drift") == created
    store.monitors.create_monitor("adult-drift", "adult", {"window": {}}, "bo")
    assert [m.name for m in store.monitors.list_monitors()] == ["adult-drift", "iris-drift"]
    assert [m.name for m in store.monitors.list_monitors(endpoint="iris")] == ["iris-drift"]
    second = store.monitors.update_monitor("iris-drift", "iris2", {"checks": []}, 1, "bo")
    assert (second.revision, second.endpoint, second.spec) == (2, "iris2", {"checks": []})
    with pytest.raises(ConflictError, match=r"revision 2 \(written by .*\), not 1"):
        store.monitors.update_monitor("iris-drift", "iris", SPEC, 1, "cy")
    with pytest.raises(ConflictError, match="exists"):
        store.monitors.create_monitor("iris-drift", "iris", {"x": 1}, "cy")
    store.monitors.delete_monitor("iris-drift", 2, "cy", reason="retired")
    with pytest.raises(NotFoundError, match="'iris-drift' was deleted"):
        store.monitors.get_monitor("iris-drift")
    again = store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    assert again.revision == 4
    history = store.monitors.list_monitor_revisions("iris-drift")
    assert [(r.revision, r.action) for r in history] == [
        (1, "create"),
        (2, "update"),
        (3, "delete"),
        (4, "create"),
    ]
    assert history[2].spec is None and history[2].reason == "retired"
    assert not verify_store(store).problems


def test_changes_are_audited_with_lineage_and_sent_twice_stored_once(store: Store) -> None:
    first = store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    assert store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann") == first
    event = store.governance.latest_event("monitor", "iris-drift", "monitor.")
    assert event is not None and event.action == "monitor.create"
    assert event.after is not None and event.after["endpoint"] == "iris"
    assert event.after["spec"] == SPEC
    graph = store.lineage.downstream(LineageNode("endpoint", "iris"))
    assert [(e.relation, e.target.kind, e.target.id) for e in graph.edges] == [
        ("monitored_by", "monitor", "iris-drift")
    ]
    updated = store.monitors.update_monitor("iris-drift", "iris", {"checks": []}, 1, "ann")
    assert store.monitors.update_monitor("iris-drift", "iris", {"checks": []}, 1, "ann") == updated
    assert store.governance.head().seq == 2


def test_not_found_lists_what_exists(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no monitors"):
        store.monitors.get_monitor("iris-drift")
    with pytest.raises(NotFoundError, match="no monitors"):
        store.monitors.list_results("iris-drift")
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    with pytest.raises(NotFoundError, match=r"did you mean iris-drift\?"):
        store.monitors.get_monitor("iris-drif")
    with pytest.raises(NotFoundError, match="monitors are: iris-drift"):
        store.monitors.record_results("nope", [_for("nope")], "ann")
    with pytest.raises(NotFoundError, match="monitors are: iris-drift"):
        store.monitors.record_alert("nope", draft(), "ann")


def _for(name: str) -> MonitorResult:
    r = result()
    return MonitorResult(
        name, r.window, r.check, r.status, r.rows, r.values, r.details, r.model_versions
    )


def test_results_are_immutable_and_idempotent_per_window_and_check(store: Store) -> None:
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    stored = store.monitors.record_results(
        "iris-drift", [result(), result(check="prediction_drift")], "ann"
    )
    assert [(r.window, r.check) for r in stored] == [(W1, "data_drift"), (W1, "prediction_drift")]
    first = stored[0]
    assert first.values["share_drifted"] == 0.25 and math.isnan(first.values["p"])
    assert first.details == {"columns": [{"name": "sepal_length", "drifted": False}]}
    assert first.model_versions == ("iris/1",) and first.reference == "iris-train/1"
    assert first.computed_by == recorded(store, "ann") and first.computed_at > 0
    assert (first.start, first.end) == (0, 100)
    seq = store.governance.head().seq
    # the same window and check again, with other values: the stored one stays
    again = store.monitors.record_results(
        "iris-drift", [result(values={"share_drifted": 0.9}, status="drift"), result(W2)], "bo"
    )
    assert again[0].values["share_drifted"] == 0.25 and again[0].status == "ok"
    assert again[0].computed_by == recorded(store, "ann")
    assert again[1].window == W2
    assert store.governance.head().seq == seq + 1  # one event: the one new result
    event = store.governance.latest_event("monitor_results", "iris-drift", "monitor.")
    assert event is not None and event.action == "monitor.results"
    assert event.after is not None and [r["window"] for r in event.after["results"]] == [W2]
    nothing_new = store.monitors.record_results("iris-drift", [result()], "ann")
    assert nothing_new[0].values["share_drifted"] == 0.25
    assert store.governance.head().seq == seq + 1
    listed = store.monitors.list_results("iris-drift")
    assert [(r.window, r.check) for r in listed] == [
        (W1, "data_drift"),
        (W1, "prediction_drift"),
        (W2, "data_drift"),
    ]
    assert [r.window for r in store.monitors.list_results("iris-drift", check="data_drift")] == [
        W1,
        W2,
    ]
    assert [r.window for r in store.monitors.list_results("iris-drift", since=100)] == [W2]


def test_concurrent_runs_store_each_result_once(store: Store) -> None:
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            store.monitors.record_results(
                "iris-drift", [result(values={"share_drifted": float(i)})], f"u{i}"
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    listed = store.monitors.list_results("iris-drift")
    assert len(listed) == 1
    assert store.governance.head().seq == 2  # create + one results event


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"window": "rows:5"}, "is not a window id"),
        ({"window": "rows:10-5"}, "ends before it starts"),
        ({"check": "vibes"}, "check 'vibes' is unknown"),
        ({"status": "meh"}, "status 'meh' is unknown"),
        ({"rows": -1}, "rows must be an integer >= 0"),
        ({"values": {"bad\nkey": 1.0}}, "value name 'bad\\\\nkey' is invalid"),
        ({"values": {"x": "high"}}, "value 'x' must be a number"),
        ({"details": {"blob": "x" * 1_100_000}}, "at most 1048576 are stored"),
        ({"monitor": "other"}, "cannot be recorded under 'iris-drift'"),
    ],
)
def test_malformed_results_are_refused_and_nothing_is_stored(
    store: Store, change: dict[str, Any], message: str
) -> None:
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    seq = store.governance.head().seq
    with pytest.raises(InvalidArgumentError, match=message):
        store.monitors.record_results("iris-drift", [result(W2), result(**change)], "ann")
    assert store.monitors.list_results("iris-drift") == []
    assert store.governance.head().seq == seq


def test_alerts_fire_once_act_once_and_resolve(store: Store) -> None:
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    alert, new = store.monitors.record_alert("iris-drift", draft(), "ann")
    assert new and alert.active and alert.action == "rollback"
    assert alert.action_status == "pending" and alert.fired_by == recorded(store, "ann")
    again, new_again = store.monitors.record_alert("iris-drift", draft(value=0.9), "bo")
    assert not new_again and again == alert
    # exactly one of several racing callers takes the action
    outcomes: list[bool] = []
    barrier = threading.Barrier(3)

    def claim() -> None:
        barrier.wait()
        outcomes.append(store.monitors.claim_alert_action("iris-drift", alert.id, "ann"))

    threads = [threading.Thread(target=claim) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False, False, True]
    done = store.monitors.finish_alert_action(
        "iris-drift", alert.id, "done", "iris@champion moved back to v1", "ann"
    )
    assert done.action_status == "done" and done.action_detail == "iris@champion moved back to v1"
    assert not store.monitors.claim_alert_action("iris-drift", alert.id, "ann")
    with pytest.raises(ConflictError, match="not claimed"):
        store.monitors.finish_alert_action("iris-drift", alert.id, "done", "again", "ann")
    assert [a.id for a in store.monitors.list_alerts("iris-drift", active_only=True)] == [alert.id]
    resolved = store.monitors.resolve_alert("iris-drift", alert.id, "rows:200-300", "ann")
    assert not resolved.active and resolved.resolved_window == "rows:200-300"
    assert store.monitors.resolve_alert("iris-drift", alert.id, "rows:300-400", "ann") == resolved
    assert store.monitors.list_alerts("iris-drift", active_only=True) == []
    assert len(store.monitors.list_alerts("iris-drift")) == 1
    actions = [
        e.action for e in store.governance.list_events(object_type="monitor_alert", limit=50)
    ]
    assert sorted(actions) == sorted(
        [
            "monitor_alert.fire",
            "monitor_alert.claim",
            "monitor_alert.action",
            "monitor_alert.resolve",
        ]
    )
    assert store.governance.verify().ok


def test_alerts_without_action_and_bad_drafts(store: Store) -> None:
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    plain, _ = store.monitors.record_alert("iris-drift", draft(action=None), "ann")
    assert plain.action is None and plain.action_status is None
    with pytest.raises(InvalidArgumentError, match="has no action"):
        store.monitors.claim_alert_action("iris-drift", plain.id, "ann")
    with pytest.raises(NotFoundError, match="has no alert"):
        store.monitors.claim_alert_action("iris-drift", "0" * 32, "ann")
    for bad, message in (
        ({"severity": "doom"}, "severity 'doom' is unknown"),
        ({"action": "reboot"}, "alert action 'reboot' is unknown"),
        ({"window": "soon"}, "is not a window id"),
        ({"message": ""}, "message must be"),
    ):
        with pytest.raises(InvalidArgumentError, match=message):
            store.monitors.record_alert("iris-drift", draft(**{"window": W1, **bad}), "ann")
    assert len(store.monitors.list_alerts("iris-drift")) == 1


def test_rows_changed_behind_keels_back_are_named(store: Any) -> None:
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    store.monitors.update_monitor("iris-drift", "iris", {"checks": []}, 1, "ann")
    assert not verify_store(store).problems
    store.monitors.record_results("iris-drift", [result(), result(W2)], "ann")
    alert, _ = store.monitors.record_alert("iris-drift", draft(), "ann")
    store.monitors.claim_alert_action("iris-drift", alert.id, "ann")
    store.monitors.finish_alert_action("iris-drift", alert.id, "done", "rolled back", "ann")
    assert not verify_store(store).problems
    _sql(store, "UPDATE monitors SET spec = '{}' WHERE project = :project")
    _sql(
        store,
        'UPDATE monitor_results SET "values" = \'{"share_drifted": 0.0}\' '
        'WHERE project = :project AND "window" = :w',
        w=W2,
    )
    _sql(store, "UPDATE monitor_alerts SET action_status = 'pending' WHERE project = :project")
    problems = [str(p) for p in verify_store(store).problems]
    assert len(problems) == 3, problems
    assert any("monitors row iris-drift" in p for p in problems)
    assert any(f"monitor_results row iris-drift@{W2}#data_drift" in p for p in problems)
    assert any("monitor_alerts row" in p and "action_status is 'pending'" in p for p in problems)


def test_projects_keep_their_monitors_apart(store: Any) -> None:
    if hasattr(store, "authenticated_user"):
        pytest.skip("project isolation of the SQL store; a server's is tested end to end")
    store.monitors.create_monitor("iris-drift", "iris", SPEC, "ann")
    store.monitors.record_results("iris-drift", [result()], "ann")
    other = store.for_project("beta")
    try:
        assert other.monitors.list_monitors() == []
        with pytest.raises(NotFoundError):
            other.monitors.list_results("iris-drift")
        other.monitors.create_monitor("iris-drift", "iris", SPEC, "bo")
        assert other.monitors.list_results("iris-drift") == []
    finally:
        other.close()
