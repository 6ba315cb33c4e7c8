"""The closed loop, end to end: serve, drift, estimate, label, alert, roll back, audit.

A real ``keel serve`` (a subprocess on 127.0.0.1) serves the stored endpoint ``credit``
(``credit@champion``, version 2; version 1 held the alias before). Traffic of 400 rows
follows the training distribution for its first half; in the second half ``x1`` and
``x3`` shift and the labels follow another rule. The monitor (windows of 100 rows)
must flag data drift in the last two windows only, on ``x1`` and ``x3`` and not ``x2``,
give CBPE's estimate before any label, then the real accuracy once the delayed labels
are in (asked as of a time past ``lateness``), deliver its alert to a webhook receiver on 127.0.0.1, roll ``credit@champion``
back to version 1 (once), and leave every step in the audit log.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.timeout(120)

ROWS_PER_REQUEST = 10
WINDOW = 100
LATENESS_S = 30


def _frame(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    x1 = rng.normal(3.0 if shifted else 0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    x3 = rng.normal(0.0, 3.0 if shifted else 1.0, n)
    if shifted:  # the world changed: the old rule no longer holds
        y = (x2 > 0.8).astype(int)
    else:
        y = (x1 + 0.5 * x2 + rng.normal(0, 0.3, n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "y": y})


def _register_models(rng: np.random.Generator) -> None:
    """credit/1 then credit/2 promoted to champion, trained on credit-train, evaluated on
    credit-test (lineage written by log_input), the target recorded as a param."""
    from sklearn.linear_model import LogisticRegression

    import keel
    from keel.data import register

    train, test = _frame(rng, 800, False), _frame(rng, 400, False)
    train_ds = register(train, name="credit-train")
    test_ds = register(test, name="credit-test")
    X, y = train[["x1", "x2", "x3"]], train["y"]
    for c in (1.0, 0.5):
        with keel.start_run(experiment="credit"):
            keel.log_input(train_ds, "trained_on")
            keel.log_input(test_ds, "evaluated_on")
            keel.log_param("target", "y")
            model = LogisticRegression(C=c).fit(X, y)
            version = keel.log_model(model, name="credit", input_example=X.head(5)).version
        keel.models.promote(version.ref, to="champion")


def test_the_monitoring_loop_closes(keel_home: Path, client: Any) -> None:
    import httpx

    from keel.context import current_context
    from keel.monitoring import (
        WebhookSink,
        create_monitor,
        monitor_alerts,
        monitor_results,
        run_monitor,
    )
    from keel.serving import endpoints, read_feedback, read_prediction_log
    from serving.conftest import Server
    from webhook_receiver import WebhookReceiver

    started = time.monotonic()
    rng = np.random.default_rng(7)
    _register_models(rng)
    endpoints.create({"name": "credit", "targets": [{"model": "credit@champion"}]})
    create_monitor(
        "credit-watch",
        "credit",
        {
            "window": {"rows": WINDOW},
            "lateness": f"{LATENESS_S}s",
            "grace": "1s",
            "alerts": [
                {
                    "name": "inputs-drift",
                    "value": "drift.share_drifted",
                    "operator": ">=",
                    "threshold": 0.5,
                    "severity": "critical",
                    "action": "rollback",
                },
                {
                    "name": "accuracy-drop",
                    "value": "performance.accuracy",
                    "operator": "<",
                    "threshold": 0.75,
                    "severity": "warning",
                },
            ],
        },
        reason="watch credit",
    )

    server = Server(keel_home.parent, ["credit"])
    sent: list[tuple[str, list[int]]] = []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for half in (False, True):
                data = _frame(rng, 200, half)
                for i in range(0, 200, ROWS_PER_REQUEST):
                    part = data.iloc[i : i + ROWS_PER_REQUEST]
                    answer = http.post(
                        "/v1/endpoints/credit/predict",
                        json={"inputs": part[["x1", "x2", "x3"]].to_dict("records")},
                    )
                    assert answer.status_code == 200, answer.text
                    sent.append((answer.headers["x-request-id"], part["y"].tolist()))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the log is written about every second
                log = read_prediction_log("credit")
                if len(log) and int(log["rows"].sum()) == 400:
                    break
                time.sleep(0.3)
            assert int(log["rows"].sum()) == 400
            time.sleep(1.2)  # grace

            with WebhookReceiver() as receiver:
                sink = WebhookSink(receiver.url, backoff=0.05)
                first = run_monitor("credit-watch", sinks=[sink])
                sink.close(10)

                # drift: in the two shifted windows only, on x1 and x3, not x2
                drift = {r.window: r for r in monitor_results("credit-watch", "data_drift")}
                assert sorted(drift) == [
                    "rows:0-100",
                    "rows:100-200",
                    "rows:200-300",
                    "rows:300-400",
                ]
                assert [drift[w].status for w in sorted(drift, key=lambda w: drift[w].start)] == [
                    "ok",
                    "ok",
                    "drift",
                    "drift",
                ]
                for w in ("rows:200-300", "rows:300-400"):
                    values = drift[w].values
                    assert values["columns.x1.drifted"] == 1.0
                    assert values["columns.x3.drifted"] == 1.0
                    assert values["columns.x2.drifted"] == 0.0
                    assert drift[w].reference == "credit-train/1"
                    assert drift[w].model_versions == ("credit/2",)
                # the estimate comes before the labels; the real metric waits for them
                estimated = monitor_results("credit-watch", "estimated_performance")
                assert len(estimated) == 4 and all(r.status == "ok" for r in estimated)
                assert all(0.5 <= r.values["accuracy"] <= 1.0 for r in estimated)
                assert monitor_results("credit-watch", "performance") == []
                assert len(first.waiting) == 4
                assert len(monitor_results("credit-watch", "prediction_drift")) == 4

                # the alert reached the webhook, once, and its action rolled the alias back
                assert receiver.wait_for(1)
                bodies = [r.body for r in receiver.accepted()]
                assert [(b["rule"], b["status"], b["window"]) for b in bodies] == [
                    ("inputs-drift", "firing", "rows:200-300")
                ]
                assert bodies[0]["action"] == "rollback"
                assert [a.rule for a in first.alerts] == ["inputs-drift"]
                assert "rolled back from version 2 to version 1" in first.actions[0]
                store = current_context().store
                assert store.registry.get_alias("credit", "champion").version == 1
                (alert,) = monitor_alerts("credit-watch")
                assert alert.action_status == "done" and alert.active
                # the serving app's /metrics exports the monitor's latest window and alert
                metrics = http.get("/metrics").text
                assert (
                    'keel_monitor_drift_share_drifted{endpoint="credit",monitor="credit-watch"}'
                    in metrics
                )
                assert (
                    'keel_monitor_alert_firing{alert="inputs-drift",endpoint="credit",'
                    'monitor="credit-watch",severity="critical"} 1.0' in metrics
                )
                # while the monitor alerts, a policy with monitor_healthy blocks promotion
                import keel
                from keel.gates import parse_policy

                policy = parse_policy("checks:\n  - monitor_healthy: {monitor: credit-watch}\n")
                blocked = keel.models.promote("credit", 2, to="champion", policy=policy)
                assert blocked.status == "rejected"
                assert store.registry.get_alias("credit", "champion").version == 1

                # labels arrive late; a second run right away changes nothing
                labelled = http.post(
                    "/v1/feedback",
                    json={"feedback": [{"request_id": r, "label": y} for r, y in sent]},
                )
                assert labelled.status_code == 200 and labelled.json()["accepted"] == 40
                again = run_monitor("credit-watch", sinks=[WebhookSink(receiver.url)])
                assert again.computed == [] and again.alerts == [] and not again.actions
                assert store.registry.get_alias("credit", "champion").version == 1

                # once lateness has passed (the monitor is asked as of then, rather than the
                # test sleeping 30 s), the real accuracy is in, next to the estimate
                deadline = time.monotonic() + 20
                while len(read_feedback("credit")) < 40 and time.monotonic() < deadline:
                    time.sleep(0.3)  # the server writes the feedback log about every second
                last = pd.to_datetime(log["time"], utc=True).max().timestamp()
                run_monitor("credit-watch", sinks=[], now_ms=int((last + LATENESS_S + 1) * 1000))
                performance = monitor_results("credit-watch", "performance")
                assert len(performance) == 4
                real = [r.values["accuracy"] for r in performance]
                assert all(r.values["labelled_share"] == 1.0 for r in performance)
                assert min(real[:2]) > 0.85 and max(real[2:]) < 0.75
                est = {r.window: r.values["accuracy"] for r in estimated}
                assert all(
                    abs(est[r.window] - r.values["accuracy"]) < 0.15 for r in performance[:2]
                )
                # the rule on accuracy fired too, without an action
                rules = sorted(a.rule for a in monitor_alerts("credit-watch"))
                assert rules == ["accuracy-drop", "inputs-drift"]
    finally:
        server.stop()

    # every step in the audit log, and the chain holds
    store = current_context().store
    actions = [e.action for e in store.governance.list_events(limit=500)]
    for action in (
        "endpoint.create",
        "monitor.create",
        "monitor.results",
        "monitor_alert.fire",
        "monitor_alert.claim",
        "alias.rollback",
        "monitor_alert.action",
        "promotion.reject",
    ):
        assert action in actions, (action, actions)
    rollback = store.governance.latest_event("alias", "credit@champion", "alias.")
    assert rollback is not None and rollback.action == "alias.rollback"
    assert "monitor credit-watch alert inputs-drift" in (rollback.reason or "")
    assert store.governance.verify().ok
    # and the stored state is what the chain says: monitor, results, alert, alias
    from keel.governance._verify import verify_store

    assert not verify_store(store).problems
    assert time.monotonic() - started < 60
