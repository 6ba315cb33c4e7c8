"""The metric buffer writes by count and by time, and keeps values when the store fails.

A run's failure is its own: the stores here are real (SQLite and PostgreSQL), made to
fail for one run (ended behind the buffer's back, its write cut off with
``pg_terminate_backend``) or for all (its role refused logins).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import keel
from keel.config import Settings
from keel.errors import InvalidArgumentError, StoreError
from keel.store import RunStatus, open_store
from keel.tracking import Client, MetricsNotStoredError, UnstoredMetrics


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


# -- one run's failure costs no other run a value, and is told to that run only -----------


def _quiet(home: Path, **kwargs: float) -> Settings:
    """Settings whose buffer only writes when asked (no background flush in the way)."""
    values = {"metric_flush_interval": 3600, "metric_flush_size": 10**6, **kwargs}
    return Settings(home=home, **values)


def _log_steps(client: Client, run_id: str, n: int, key: str = "m") -> None:
    for step in range(n):
        client.log_metric(run_id, key, float(step), step=step)


def _stored_steps(uri: str, run_id: str, key: str = "m") -> list[int]:
    """The steps the store holds, read through a handle of its own (no buffer)."""
    with open_store(uri) as store:
        return [m.step for m in store.tracking.get_metric_history(run_id, key)]


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request: pytest.FixtureRequest, keel_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{keel_home / 'keel.db'}"
    return str(request.getfixturevalue("pg_schema_uri"))


def test_a_run_ended_elsewhere_loses_only_its_own_values(store_uri: str, keel_home: Path) -> None:
    owner = Client(store_uri, settings=_quiet(keel_home))
    a, b, c = (owner.create_run("shared") for _ in range(3))
    for run in (a, b, c):  # a first: its batch is written before the others'
        _log_steps(owner, run.id, 100)
    other = Client(store_uri, settings=_quiet(keel_home))
    other.end_run(a.id, "KILLED", error="stopped by an operator")  # behind the buffer's back
    other.close()

    owner.flush()  # a's refusal is a's owner's business, not the flusher's
    assert _stored_steps(store_uri, b.id) == list(range(100))
    assert _stored_steps(store_uri, c.id) == list(range(100))
    assert _stored_steps(store_uri, a.id) == []

    owner.log_metric(b.id, "m", 1.0, step=100)  # b is told nothing
    with pytest.raises(
        MetricsNotStoredError,
        match=rf"101 metric values were not stored for run {a.id}: .*has ended \(KILLED\)",
    ) as caught:
        owner.log_metric(a.id, "m", 1.0, step=100)
    assert caught.value.unstored == (
        UnstoredMetrics(a.id, 101, caught.value.unstored[0].reason, refused=True),
    )
    owner.log_metric(c.id, "m", 1.0, step=100)  # told once, to a, and then forgotten
    owner.end_run(b.id)
    owner.end_run(c.id)
    assert len(_stored_steps(store_uri, b.id)) == len(_stored_steps(store_uri, c.id)) == 101
    owner.close()  # nothing left to report


def test_a_background_refusal_reaches_only_its_run(store_uri: str, keel_home: Path) -> None:
    owner = Client(store_uri, settings=_quiet(keel_home, metric_flush_interval=0.05))
    a, b = owner.create_run("bg"), owner.create_run("bg")
    other = Client(store_uri, settings=_quiet(keel_home))
    other.end_run(a.id, "KILLED")
    other.close()
    _log_steps(owner, a.id, 10)
    _log_steps(owner, b.id, 10)
    deadline = time.monotonic() + 30
    while len(_stored_steps(store_uri, b.id)) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the background flush has written b (a real event)
    assert _stored_steps(store_uri, b.id) == list(range(10))
    _log_steps(owner, b.id, 5, key="more")  # b's owner never hears of a's failure
    owner.end_run(b.id)
    assert _stored_steps(store_uri, b.id, "more") == list(range(5))
    with pytest.raises(MetricsNotStoredError, match=f"values were not stored for run {a.id}"):
        owner.end_run(a.id, "FINISHED")
    owner.close()


def test_ending_a_run_ended_elsewhere_reports_its_lost_values(client: Client) -> None:
    other = Client(client.store_uri)
    with (
        pytest.raises(MetricsNotStoredError, match=r"3 metric values were not stored"),
        keel.start_run(experiment="e") as run,
    ):
        for step in range(3):
            keel.log_metric("m", step, step=step)
        other.end_run(run.id, "KILLED")  # behind the buffer's back
    other.close()
    assert client.get_run(run.id).status is RunStatus.KILLED
    assert client.get_metric_history(run.id, "m") == []


def test_a_bad_metric_name_is_refused_at_once_and_sinks_no_good_value(client: Client) -> None:
    run = client.create_run("names")
    client.log_metric(run.id, "good", 1.0)
    with pytest.raises(InvalidArgumentError, match="at most 250 characters"):
        client.log_metric(run.id, "x" * 251, 2.0)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        client.log_metric(run.id, "a\x00b", 2.0)
    client.end_run(run.id)
    assert [m.value for m in client.get_metric_history(run.id, "good")] == [1.0]


# -- PostgreSQL: a connection cut mid-write, and a store that refuses connections ---------


def _admin(pg_uri: str) -> sa.Engine:
    return sa.create_engine(pg_uri, isolation_level="AUTOCOMMIT")


def _blocked_backend(admin: sa.Engine, application: str) -> int:
    """Wait until a backend of ``application`` waits on a lock; return its pid."""
    deadline = time.monotonic() + 60
    with admin.connect() as conn:
        while time.monotonic() < deadline:
            pid = conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE application_name = :app AND wait_event_type = 'Lock'"
                ),
                {"app": application},
            ).scalar()
            if pid is not None:
                return int(pid)
            time.sleep(0.01)
    raise AssertionError(f"no backend of {application} ever waited on the lock")


def test_a_write_cut_off_by_pg_terminate_backend_keeps_its_values(
    pg_schema_uri: str, keel_home: Path
) -> None:
    application = f"keel-test-{uuid.uuid4().hex[:8]}"
    uri = f"{pg_schema_uri}&application_name={application}"
    owner = Client(uri, settings=_quiet(keel_home))
    a, b = owner.create_run("cut"), owner.create_run("cut")
    _log_steps(owner, a.id, 50)  # a's batch is written first...
    _log_steps(owner, b.id, 50)
    admin = _admin(pg_schema_uri)
    locker = admin.connect()
    # ...and blocks: the metric rows' foreign key needs a share lock on a's run row.
    locker.exec_driver_sql("BEGIN")
    locker.execute(sa.text("SELECT id FROM runs WHERE id = :a FOR UPDATE"), {"a": a.id})
    failures: list[BaseException] = []

    def flush() -> None:
        try:
            owner.flush()
        except Exception as exc:
            failures.append(exc)

    flusher = threading.Thread(target=flush)
    flusher.start()
    pid = _blocked_backend(admin, application)
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    flusher.join(timeout=120)
    locker.exec_driver_sql("ROLLBACK")
    locker.close()
    admin.dispose()

    assert _stored_steps(uri, b.id) == list(range(50))  # b lost nothing to a's cut
    assert _stored_steps(uri, a.id) == []
    assert len(failures) == 1 and isinstance(failures[0], StoreError)
    assert a.id in str(failures[0]) and "stay queued" in str(failures[0])
    owner.flush()  # the connection is back: a's values, kept in order, are written once
    assert _stored_steps(uri, a.id) == list(range(50))
    owner.close()


def test_an_unreachable_store_keeps_every_value_until_it_answers(
    login_role: Any, keel_home: Path
) -> None:
    owner = Client(login_role.uri, settings=_quiet(keel_home))
    runs = [owner.create_run("down") for _ in range(3)]
    for run in runs:
        _log_steps(owner, run.id, 40)
    login_role.refuse_logins()

    with pytest.raises(StoreError, match="is unavailable.*stay queued"):
        owner.flush()
    with pytest.raises(StoreError, match=f"run {runs[0].id}.*40 metric values stay queued"):
        owner.flush(runs[0].id)
    owner.log_metric(runs[1].id, "m", 40.0, step=40)  # logging goes on: it is queued
    with pytest.raises(StoreError, match=f"run {runs[2].id} could not be ended"):
        owner.end_run(runs[2].id)

    login_role.allow_logins()
    owner.end_run(runs[2].id)
    owner.flush()
    assert _stored_steps(login_role.uri, runs[0].id) == list(range(40))  # once each, in order
    assert _stored_steps(login_role.uri, runs[1].id) == list(range(41))
    assert _stored_steps(login_role.uri, runs[2].id) == list(range(40))
    assert owner.get_run(runs[2].id).status is RunStatus.FINISHED
    owner.close()


def test_closing_a_client_reports_values_no_owner_was_told_of(keel_home: Path) -> None:
    uri = f"sqlite:///{keel_home / 'keel.db'}"
    owner = Client(uri, settings=_quiet(keel_home))
    a, b = owner.create_run("close"), owner.create_run("close")
    _log_steps(owner, a.id, 4)
    _log_steps(owner, b.id, 6)
    other = Client(uri, settings=_quiet(keel_home))
    other.end_run(a.id, "KILLED")
    other.close()
    with pytest.raises(
        MetricsNotStoredError, match=f"^4 metric values were not stored for run {a.id}: "
    ):
        owner.close()
    assert _stored_steps(uri, b.id) == list(range(6))


def test_a_failing_block_keeps_its_exception_and_notes_the_lost_values(client: Client) -> None:
    other = Client(client.store_uri)
    with pytest.raises(ZeroDivisionError) as caught, keel.start_run(experiment="e") as run:
        keel.log_metric("m", 1.0)
        other.end_run(run.id, "KILLED")
        _ = 1 / 0
    other.close()
    assert caught.value.__notes__ == [
        f"keel: while ending run {run.id}: 1 metric value was not stored for run {run.id}: "
        f"run {run.id} has ended (KILLED) and can no longer change; start a new run to log more"
    ]
