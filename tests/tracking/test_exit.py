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
from pathlib import Path
from typing import Any

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


def test_values_of_an_unreachable_store_at_exit_are_reported(
    tmp_path: Path, keel_home: Path, login_role: Any
) -> None:
    proc = _start(tmp_path, FLUENT_SCRIPT, login_role.uri, str(keel_home))
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    login_role.refuse_logins()
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
    login_role.allow_logins()
    with open_store(login_role.uri) as store:
        assert store.tracking.get_run(run_id).status is RunStatus.RUNNING
        assert store.tracking.get_metric_history(run_id, "m") == []
