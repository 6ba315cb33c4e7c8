"""A hard crash loses at most the last flush window and never corrupts the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

LOGGER = textwrap.dedent(
    """
    import sys, time
    import keel
    from keel.config import Settings
    from keel.tracking import Client, set_client

    client = Client(settings=Settings(home=sys.argv[1], metric_flush_interval=0.05))
    set_client(client)
    run = keel.start_run(experiment="crash", run_name="doomed")
    print(run.id, flush=True)
    step = 0
    while True:
        keel.log_metric("loss", 1.0 / (step + 1), step=step)
        step += 1
        if step % 500 == 0:
            client.flush()                     # everything up to here is now stored
            print(step, flush=True)
        if step % 50 == 0:
            time.sleep(0.001)                  # let background flushes happen mid-window too
    """
)


def test_sigkill_keeps_everything_up_to_the_last_flush(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = tmp_path / "logger.py"
    script.write_text(LOGGER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(home)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    flushed = 0
    while flushed < 5000:
        flushed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    engine = sa.create_engine(f"sqlite:///{home / 'keel.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        steps = (
            conn.execute(
                sa.text("SELECT step FROM metrics WHERE run_id = :r ORDER BY step"), {"r": run_id}
            )
            .scalars()
            .all()
        )
        status = conn.execute(
            sa.text("SELECT status FROM runs WHERE id = :r"), {"r": run_id}
        ).scalar()
    engine.dispose()
    # Every value up to the last confirmed flush is there, with no gap and no duplicate.
    assert len(steps) >= flushed
    assert steps == list(range(len(steps)))
    assert status == "RUNNING"  # it never ended; keel runs list shows it as such

    # The store is still fully usable afterwards.
    from keel.config import Settings
    from keel.tracking import Client

    client = Client(settings=Settings(home=home))
    assert len(client.get_metric_history(run_id, "loss")) == len(steps)
    client.end_run(run_id, "KILLED", error="process crashed")
    assert client.get_run(run_id).status.value == "KILLED"
    client.close()
