"""The metric buffer writes by count and by time, and keeps values when the store fails."""

from __future__ import annotations

import time

from keel.config import Settings
from keel.tracking import Client


def test_flush_by_size_and_by_time(keel_home) -> None:
    client = Client(
        settings=Settings(home=keel_home, metric_flush_interval=0.2, metric_flush_size=100)
    )
    run = client.create_run("buffer")
    for step in range(100):
        client.log_metric(run.id, "m", step, step=step)
    deadline = time.monotonic() + 10
    while (
        client.store.tracking.get_metric_history(run.id, "m") == [] and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert len(client.store.tracking.get_metric_history(run.id, "m")) == 100  # size trigger

    client.log_metric(run.id, "t", 1.0)
    deadline = time.monotonic() + 10
    while not client.store.tracking.get_metric_history(run.id, "t") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(client.store.tracking.get_metric_history(run.id, "t")) == 1  # time trigger
    assert client._buffer is not None and client._buffer.pending() == 0
    client.close()


def test_end_run_flushes_pending_values(keel_home) -> None:
    client = Client(
        settings=Settings(home=keel_home, metric_flush_interval=3600, metric_flush_size=10**6)
    )
    run = client.create_run("buffer")
    for step in range(1000):
        client.log_metric(run.id, "m", step, step=step)
    assert client.store.tracking.get_metric_history(run.id, "m") == []  # still queued
    client.end_run(run.id)
    assert len(client.store.tracking.get_metric_history(run.id, "m")) == 1000
    client.close()
