"""TrackingStore.end_run(metrics=...): the last values and the end in one transaction."""

from __future__ import annotations

import pytest

from keel.errors import RunStateError
from keel.store import Metric, RunStatus, Store


def test_end_run_writes_final_metrics_with_the_end(store: Store) -> None:
    t = store.tracking
    run = t.create_run(t.get_or_create_experiment("exp").id)
    t.log_batch(run.id, [Metric("loss", 0.9, 0, 1)])
    ended = t.end_run(
        run.id, RunStatus.FINISHED, metrics=[Metric("loss", 0.5, 1, 2), Metric("acc", 0.8, 1, 2)]
    )
    assert ended.status is RunStatus.FINISHED
    assert ended.metrics == {"loss": 0.5, "acc": 0.8}
    assert [m.value for m in t.get_metric_history(run.id, "loss")] == [0.9, 0.5]


def test_end_run_of_an_ended_run_writes_none_of_its_metrics(store: Store) -> None:
    t = store.tracking
    run = t.create_run(t.get_or_create_experiment("exp").id)
    t.end_run(run.id, RunStatus.FINISHED)
    with pytest.raises(RunStateError, match="has ended"):
        t.end_run(run.id, RunStatus.FAILED, metrics=[Metric("late", 1.0, 0, 1)])
    assert t.get_metric_history(run.id, "late") == []
    assert t.get_run(run.id).status is RunStatus.FINISHED
