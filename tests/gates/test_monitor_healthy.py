"""``monitor_healthy: {monitor: NAME}`` blocks a promotion while the monitor has a firing
alert, and lets it through once the alert resolved."""

from __future__ import annotations

from typing import Any

import keel
from keel.gates import parse_policy
from keel.store import AlertDraft

POLICY = parse_policy("checks:\n  - monitor_healthy: {monitor: iris-watch}\n")


def test_a_firing_alert_blocks_promotion_until_it_resolves(
    client: Any, register_model: Any
) -> None:
    from keel.monitoring import create_monitor
    from keel.serving import endpoints

    register_model()
    register_model()
    keel.models.promote("iris", 1, to="champion", policy=None)
    endpoints.create({"name": "iris", "targets": [{"model": "iris@champion"}]})
    create_monitor("iris-watch", "iris", {"window": {"rows": 100}})
    store = client.store.monitors

    healthy = keel.models.promote("iris", 2, to="challenger", policy=POLICY)
    assert healthy.status == "promoted"
    assert healthy.gate is not None
    assert healthy.gate.checks[0].detail == "monitor iris-watch has no firing alert"

    alert, _ = store.record_alert(
        "iris-watch",
        AlertDraft(
            rule="inputs-drift",
            window="rows:100-200",
            severity="critical",
            metric="drift.share_drifted",
            value=0.75,
            condition="drift.share_drifted >= 0.5",
            message="inputs drifted",
        ),
        "ann",
    )
    blocked = keel.models.promote("iris", 2, to="champion", policy=POLICY)
    assert blocked.status == "rejected" and not blocked.moved
    assert blocked.gate is not None
    (check,) = blocked.gate.failed_checks
    assert check.check == "monitor_healthy: iris-watch" and check.value == 1
    assert "inputs-drift [critical] since window rows:100-200" in check.detail
    assert keel.models.get("iris@champion").version == 1

    store.resolve_alert("iris-watch", alert.id, "rows:200-300", "ann")
    assert keel.models.promote("iris", 2, to="champion", policy=POLICY).status == "promoted"


def test_a_monitor_that_does_not_exist_fails_the_check(client: Any, register_model: Any) -> None:
    register_model()
    out = keel.models.promote("iris", 1, to="champion", policy=POLICY)
    assert out.status == "rejected"
    assert out.gate is not None
    assert "monitor 'iris-watch' does not exist" in out.gate.failed_checks[0].detail
