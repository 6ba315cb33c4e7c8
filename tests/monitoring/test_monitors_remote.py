"""A monitor against a keel server (``KEEL_STORE_URI=http://...``): the monitor, its
results, the reference sketch and the alerts live on the server; the log is the local
serving process's; the rollback runs on the server as the authenticated user."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from monitoring.monitored import frame, make_models, send

pytestmark = pytest.mark.timeout(180)


def test_a_monitor_on_a_keel_server(
    rest_sqlite_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keel
    from keel.context import current_context, reset_default_context
    from keel.monitoring import create_monitor, monitor_alerts, monitor_results, run_monitor
    from keel.store import LineageNode
    from keel.tracking import get_client, set_client

    project = f"m{uuid.uuid4().hex[:10]}"
    admin = rest_sqlite_server.client()
    admin.access.create_project(project, "monitors over REST", actor="ignored")
    admin.close()
    monkeypatch.setenv("KEEL_STORE_URI", rest_sqlite_server.url)
    monkeypatch.setenv("KEEL_TOKEN", rest_sqlite_server.admin_token)
    monkeypatch.setenv("KEEL_PROJECT", project)
    set_client(None)
    stale = reset_default_context()
    if stale is not None:
        stale.close()

    def act_as(token: str) -> None:
        """Later calls act with ``token`` (the fluent client and the default context
        are rebuilt from the environment; the old ones are closed)."""
        # Context.close() closes the store it opened but not an HTTP artifact store's
        # connections (ArtifactStore has no close): closed here, so no socket leaks
        current_context().artifacts._transport.close()  # type: ignore[attr-defined]
        monkeypatch.setenv("KEEL_TOKEN", token)
        leftover = get_client()
        set_client(None)
        leftover.close()
        stale = reset_default_context()
        if stale is not None:
            stale.close()

    from keel.context import Context
    from keel.governance import create_token, create_user, grant_role

    with Context(store=rest_sqlite_server.client(project=project)) as ctx:
        create_user(f"ed-{project}", context=ctx)
        _, editor = create_token("monitor", user=f"ed-{project}", context=ctx)
        grant_role(f"ed-{project}", "editor", context=ctx)
        ctx.store.close()

    rng = np.random.default_rng(21)
    make_models(rng)
    create_monitor(
        "watch",
        "credit",
        {
            "window": {"rows": 100},
            "grace": "1ms",
            "alerts": [
                {
                    "name": "drift",
                    "value": "drift.share_drifted",
                    "operator": ">=",
                    "threshold": 0.5,
                    "action": "rollback",
                }
            ],
        },
    )
    send([frame(rng, 100), frame(rng, 100, shifted=True)])
    # an editor runs the monitor: results and the alert are stored, the rollback waits
    act_as(editor)
    run = run_monitor("watch", sinks=[])
    statuses = {r.window: r.status for r in run.computed if r.check == "data_drift"}
    assert statuses == {"rows:0-100": "ok", "rows:100-200": "drift"}
    assert [a.rule for a in run.alerts] == ["drift"]
    assert "its rollback waits for a run by a maintainer" in run.actions[0]
    assert "needs the maintainer role" in run.actions[0]
    assert keel.models.get("credit@champion").version == 2
    assert monitor_alerts("watch")[0].action_status == "pending"
    # the next run by an admin takes the action
    act_as(rest_sqlite_server.admin_token)
    run = run_monitor("watch", sinks=[])
    assert run.computed == [] and run.alerts == []
    assert "rolled back from version 2 to version 1" in run.actions[0]
    assert keel.models.get("credit@champion").version == 1
    (alert,) = monitor_alerts("watch")
    assert alert.action_status == "done" and alert.fired_by == f"ed-{project}"
    assert len(monitor_results("watch", "data_drift")) == 2
    # the sketch is an artifact on the server, found through the server's lineage
    store = current_context().store
    train = store.datasets.get_version("credit-train", 1)
    graph = store.lineage.downstream(LineageNode("dataset_version", train.id), max_depth=1)
    assert any(e.relation == "sketched_as" for e in graph.edges)
    event = store.governance.latest_event("alias", "credit@champion", "alias.")
    assert event is not None and event.actor == "admin" and "monitor watch" in (event.reason or "")
    assert run_monitor("watch", sinks=[]).computed == []
    current_context().artifacts._transport.close()  # type: ignore[attr-defined]
