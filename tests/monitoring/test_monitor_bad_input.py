"""Bad input to monitors: each gives a clear result or error, and stored results stay.

Windows without rows, feedback for request ids the log does not hold, labels of the
wrong type or shape, a reference whose columns differ from the endpoint's inputs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.context import current_context
from keel.monitoring import create_monitor, monitor_results, run_monitor
from keel.monitoring._labels import check_labels
from monitoring.monitored import frame, make_models, send

pytestmark = pytest.mark.timeout(120)

LATER = 2 * 3_600_000  # past the default lateness (1h)


def _now() -> int:
    return int(time.time() * 1000)


def test_an_endpoint_without_traffic_has_no_windows(client: Any) -> None:
    make_models(np.random.default_rng(1), versions=1)
    create_monitor("rows", "credit", {"window": {"rows": 10}, "grace": "1ms"})
    run = run_monitor("rows")
    assert run.computed == [] and run.waiting == [] and run.unknown_feedback == 0
    assert monitor_results("rows") == []
    # the loop of `keel monitor run --every`: runs until stopped; a failed run goes on
    import threading

    from keel.monitoring import run_monitor_every

    stop, runs, errors = threading.Event(), [], []

    def seen(r: Any) -> None:
        runs.append(r)
        if len(runs) == 2:
            stop.set()

    run_monitor_every("rows", 0.01, stop=stop, on_run=seen, sinks=[])
    assert len(runs) == 2
    stop.clear()
    run_monitor_every("nope", 0.01, stop=stop, on_error=lambda e: (errors.append(e), stop.set()))
    assert "monitor 'nope' does not exist" in str(errors[0])


def test_labels_of_the_wrong_type_unknown_ids_and_late_labels(client: Any) -> None:
    rng = np.random.default_rng(2)
    make_models(rng, versions=1)
    create_monitor(
        "watch", "credit", {"window": {"rows": 20}, "checks": ["performance"], "grace": "1ms"}
    )

    def words(sent: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        # window 1: every label a word; window 2: half numbers, half words and bad shapes
        out = [{"request_id": r, "label": ["yes"] * len(y)} for r, y in sent[:2]]
        out.append({"request_id": sent[2][0], "label": sent[2][1]})
        out.append({"request_id": sent[3][0], "label": sent[3][1][:3]})  # 3 labels for 10 rows
        return out

    sent = send([frame(rng, 40)], feedback=words)
    assert len(sent) == 4
    # feedback the log cannot explain: written by hand into the feedback log
    from keel.serving._predlog import FeedbackRecord, PredictionLog, log_root

    log = PredictionLog(f"{log_root(current_context())}")
    log.start()
    for i in range(3):
        log.append(FeedbackRecord(f"nope{i}", _now(), "credit", "credit/1", 1))
    log.close()

    run = run_monitor("watch", now_ms=_now() + LATER)
    results = {r.window: r for r in run.computed if r.check == "performance"}
    first, second = results["rows:0-20"], results["rows:20-40"]
    assert first.status == "error" and first.rows == 0
    assert first.values["invalid_labels"] == 20.0
    assert "20 label(s) do not fit the model's outputs" in (first.message or "")
    assert "the model's classes are [0, 1]" in (first.message or "")
    assert second.status == "ok" and second.values["labelled_rows"] == 10.0
    assert second.values["invalid_labels"] == 10.0 and second.values["labelled_share"] == 0.5
    assert run.unknown_feedback == 3
    assert any("3 feedback row(s) name request ids" in n for n in run.notes)
    # the stored results stay as they are when the monitor runs again
    stored = monitor_results("watch")
    run_monitor("watch", now_ms=_now() + 2 * LATER)
    assert monitor_results("watch") == stored


def test_a_reference_with_other_columns_is_reported(client: Any) -> None:
    from keel.data import register

    rng = np.random.default_rng(3)
    make_models(rng, versions=1)
    register(pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)}), name="other")
    partly = frame(rng, 80).drop(columns=["x3"]).assign(extra=1.0)
    register(partly, name="partly")
    create_monitor(
        "other",
        "credit",
        {
            "window": {"rows": 30},
            "grace": "1ms",
            "checks": ["data_drift"],
            "reference": {"dataset": "other/1"},
        },
    )
    create_monitor(
        "partly",
        "credit",
        {
            "window": {"rows": 30},
            "grace": "1ms",
            "checks": ["data_drift"],
            "reference": {"dataset": "partly/1"},
        },
    )
    send([frame(rng, 30)])
    (bad,) = run_monitor("other").computed
    assert bad.status == "error" and bad.check == "data_drift"
    assert "no column could be tested" in (bad.message or "")
    assert "['x1', 'x2', 'x3']" in (bad.message or "") and "other/1" in (bad.message or "")
    (some,) = run_monitor("partly").computed
    assert some.status in ("ok", "drift")
    assert some.details["new_columns"] == ["x3"]
    assert "columns.x3.statistic" not in some.values
    assert some.values["tested_columns"] == 2.0


def test_check_labels_by_task() -> None:
    ids, rows = ["a", "b", "b", "c", "d"], [0, 0, 1, 0, 0]
    labels = {"a": "1", "b": "[0, 1]", "c": "true", "d": "not json"}
    got = check_labels(ids, rows, labels, "classification", (0, 1))
    assert got.truth == [1, 0, 1, None, None] and got.invalid == 2
    strings = check_labels(["a"], [0], {"a": '"cat"'}, "classification", ("cat", "dog"))
    assert strings.truth == ["cat"] and strings.invalid == 0
    numbers = check_labels(["a"], [0], {"a": "3"}, "classification", ("cat", "dog"))
    assert numbers.truth == [None] and numbers.invalid == 1 and numbers.examples == ["3"]
    reg = check_labels(
        ["a", "b", "c"], [0, 0, 0], {"a": "2.5", "b": '"x"', "c": "NaN"}, "regression", None
    )
    assert reg.truth == [2.5, None, None] and reg.invalid == 2
    unlabelled = check_labels(["a"], [0], {}, "regression", None)
    assert unlabelled.truth == [None] and unlabelled.invalid == 0 and unlabelled.labelled == 0
