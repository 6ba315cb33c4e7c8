"""Values that cannot be written at interpreter exit are reported on stderr, never lost silently.

Each test runs a real script in a subprocess; the parent makes its store fail for a
run (ended behind the script's back) or for all (its PostgreSQL role refused logins)
while the script waits, then lets it exit and reads its stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from keel.store import RunStatus, open_store
from keel.tracking import Client

CLIENT_SCRIPT = textwrap.dedent(
    """
    import sys
    from keel.config import Settings
    from keel.tracking import Client

    client = Client(settings=Settings(home=sys.argv[1], metric_flush_interval=3600))
    doomed, fine = client.create_run("exit"), client.create_run("exit")
    for step in range(5):
        client.log_metric(doomed.id, "m", step, step=step)
    for step in range(3):
        client.log_metric(fine.id, "m", step, step=step)
    print(doomed.id, fine.id, flush=True)
    sys.stdin.readline()  # the parent ends `doomed` meanwhile; then we exit
    """
)

FLUENT_SCRIPT = textwrap.dedent(
    """
    import sys
    import keel
    from keel.config import Settings
    from keel.tracking import Client, set_client

    set_client(Client(sys.argv[1], settings=Settings(home=sys.argv[2], metric_flush_interval=3600)))
    run = keel.start_run(experiment="exit")  # never ended: closed at exit
    for step in range(7):
        keel.log_metric("m", step, step=step)
    print(run.id, flush=True)
    sys.stdin.readline()  # the parent cuts the store off meanwhile; then we exit
    """
)


def _start(tmp_path: Path, script: str, *args: str) -> subprocess.Popen[str]:
    path = tmp_path / "script.py"
    path.write_text(script)
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _let_exit(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate("go\n", timeout=120)
    assert proc.returncode == 0, err
    return err


def test_values_refused_at_exit_are_reported_with_run_count_and_reason(
    tmp_path: Path, keel_home: Path
) -> None:
    proc = _start(tmp_path, CLIENT_SCRIPT, str(keel_home))
    assert proc.stdout is not None
    doomed, fine = proc.stdout.readline().split()  # the ready line: values are queued
    other = Client()
    other.end_run(doomed, "KILLED", error="stopped by an operator")
    other.close()
    err = _let_exit(proc)

    lines = [line for line in err.splitlines() if line.startswith("keel: ")]
    assert lines == [
        f"keel: 5 metric values were not stored for run {doomed}: run {doomed} has ended "
        "(KILLED) and can no longer change; start a new run to log more"
    ]
    with open_store(f"sqlite:///{keel_home / 'keel.db'}") as store:
        assert [m.step for m in store.tracking.get_metric_history(fine, "m")] == [0, 1, 2]


class _Role:
    def __init__(self, pg_schema_uri: str) -> None:
        url = sa.engine.make_url(pg_schema_uri)
        self.admin = sa.create_engine(pg_schema_uri, isolation_level="AUTOCOMMIT")
        schema = str(url.query["options"]).removeprefix("-csearch_path=")
        self.name = f"keel_exit_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{self.name}" LOGIN')
            conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" OWNER TO "{self.name}"')
        self.uri = url.set(username=self.name).render_as_string(hide_password=False)

    def logins(self, allowed: bool) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER ROLE "{self.name}" {"LOGIN" if allowed else "NOLOGIN"}')
            if not allowed:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"
                    ),
                    {"r": self.name},
                )


@pytest.fixture
def role(pg_schema_uri: str) -> Iterator[_Role]:
    role = _Role(pg_schema_uri)
    try:
        yield role
    finally:
        role.logins(False)
        with role.admin.connect() as conn:
            conn.exec_driver_sql(f'REASSIGN OWNED BY "{role.name}" TO CURRENT_USER')
            conn.exec_driver_sql(f'DROP OWNED BY "{role.name}"')
            conn.exec_driver_sql(f'DROP ROLE "{role.name}"')
        role.admin.dispose()


def test_values_of_an_unreachable_store_at_exit_are_reported(
    tmp_path: Path, keel_home: Path, role: _Role
) -> None:
    proc = _start(tmp_path, FLUENT_SCRIPT, role.uri, str(keel_home))
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    role.logins(False)
    err = _let_exit(proc)

    lines = sorted(line for line in err.splitlines() if line.startswith("keel: "))
    assert len(lines) == 2, err
    lost, not_ended = lines  # one line each, whichever exit hook ran first
    assert lost.startswith(f"keel: 7 metric values were not stored for run {run_id}: ")
    assert not_ended.startswith(
        f"keel: run {run_id} could not be marked FINISHED at exit and stays RUNNING: the "
    )
    for line in lines:
        assert "is unavailable" in line and "not permitted to log in" in line
    role.logins(True)
    with open_store(role.uri) as store:
        assert store.tracking.get_run(run_id).status is RunStatus.RUNNING
        assert store.tracking.get_metric_history(run_id, "m") == []
