"""Many clients logging through one server, and the server killed in the middle of it.

16 clients (threads, each with its own keel.Client and connections) log 1,000 metric
values each, in batches, through a real ``keel server``. Every value must be stored
exactly once. In the second test the server is SIGKILLed while they log (every client
has logged half its values and goes on, paced, so the kill lands mid-stream whatever the
machine's speed) and started again on the same port: the clients' retries must finish the work with nothing missing,
nothing stored twice, no run left RUNNING, and an intact audit chain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel_server import KeelServer

CLIENTS = 16
VALUES = 1_000
BATCH = 100


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KeelServer]:
    """A server of this test's own (the fault test kills it)."""
    running = KeelServer(tmp_path / "server").start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


def _client(server: KeelServer, home: Path) -> Any:
    from keel.config import Settings
    from keel.tracking import Client

    settings = Settings(
        home=home,
        store_uri=server.url,
        token=server.admin_token,
        metric_flush_size=BATCH,
        metric_flush_interval=0.2,
        cache_dir=home / "cache",
    )
    return Client(settings=settings)


class _Pace:
    """Where the clients are: the test waits for all to be halfway, then lets them go on."""

    def __init__(self, hold: bool) -> None:
        self.halfway = threading.Semaphore(0)
        self.go = threading.Event()
        if not hold:
            self.go.set()


def _log(
    server: KeelServer,
    home: Path,
    index: int,
    run_ids: list[str],
    errors: list[str],
    pace: _Pace,
) -> None:
    from keel.store import RunStatus

    client = _client(server, home / f"client-{index}")
    try:
        run = client.create_run("load", run_name=f"client-{index}")
        run_ids[index] = run.id
        for step in range(VALUES):
            if step == VALUES // 2:
                pace.halfway.release()
                pace.go.wait(60)
            client.log_metric(run.id, "value", float(step), step=step)
            if step % BATCH == 0:
                time.sleep(0.02)  # spread the load: the second half takes >= 0.1 s
        client.end_run(run.id, RunStatus.FINISHED)
        client.close()
    except Exception as exc:  # reported by the test, with the client's number
        errors.append(f"client {index}: {type(exc).__name__}: {exc}")
        pace.halfway.release()  # never leave the test waiting for a client that failed


def _run_clients(
    server: KeelServer, home: Path, pace: _Pace
) -> tuple[list[threading.Thread], list[str], list[str]]:
    run_ids = [""] * CLIENTS
    errors: list[str] = []
    threads = [
        threading.Thread(target=_log, args=(server, home, i, run_ids, errors, pace), daemon=True)
        for i in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    return threads, run_ids, errors


def _join(threads: list[threading.Thread], timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "clients did not finish in time"


def _check(server: KeelServer, run_ids: list[str]) -> None:
    from keel.context import Context
    from keel.governance import verify
    from keel.store import RunStatus

    store = server.client()
    try:
        assert all(run_ids), run_ids
        experiment = store.tracking.get_experiment_by_name("load")
        assert experiment is not None
        runs = store.tracking.search_runs([experiment.id])
        assert sorted(r.id for r in runs) == sorted(run_ids)  # no run twice, none half-made
        assert all(r.status is RunStatus.FINISHED for r in runs)
        total = 0
        for run_id in run_ids:
            history = store.tracking.get_metric_history(run_id, "value")
            steps = [m.step for m in history]
            assert steps == list(range(VALUES)), f"run {run_id}: {len(steps)} values"
            assert [m.value for m in history] == [float(s) for s in range(VALUES)]
            total += len(history)
        assert total == CLIENTS * VALUES
        with Context(store=store) as ctx:
            assert verify(context=ctx).ok
    finally:
        store.close()


@pytest.mark.slow
def test_sixteen_clients_store_every_value_exactly_once(server: KeelServer, tmp_path: Path) -> None:
    threads, run_ids, errors = _run_clients(server, tmp_path, _Pace(hold=False))
    _join(threads)
    assert not errors, errors
    _check(server, run_ids)


@pytest.mark.slow
def test_a_server_killed_mid_load_loses_and_doubles_nothing(
    server: KeelServer, tmp_path: Path
) -> None:
    pace = _Pace(hold=True)
    threads, run_ids, errors = _run_clients(server, tmp_path, pace)
    for _ in range(CLIENTS):
        assert pace.halfway.acquire(timeout=120), "the clients did not reach halfway"
    assert not errors, errors
    pace.go.set()
    time.sleep(0.03)  # the clients are logging their second halves now
    assert all(t.is_alive() for t in threads)
    server.kill()
    time.sleep(1.0)  # the clients meet a dead server and retry
    server.start()
    _join(threads)
    assert not errors, errors
    _check(server, run_ids)
    assert "Traceback" not in server.log.read_text().split("keel server on")[-1]
