"""Eight processes logging into one SQLite store at once lose nothing and never see
"database is locked"."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

WORKER = textwrap.dedent(
    """
    import sys
    import keel
    from keel.config import Settings
    from keel.tracking import Client, set_client

    home, worker = sys.argv[1], int(sys.argv[2])
    # Small flush windows so the processes really write at the same time, many times.
    set_client(Client(settings=Settings(home=home, metric_flush_interval=0.01, metric_flush_size=50)))
    with keel.start_run(experiment="shared", run_name=f"worker-{worker}") as run:
        for i in range(20):
            keel.log_param(f"p{i}", i)
            keel.set_tag("progress", i)
        for step in range(1500):
            keel.log_metric("loss", 1.0 / (step + 1), step=step)
            keel.log_metric("worker", worker, step=step)
        keel.log_text("done", f"notes/{worker}.txt")
    print(run.id)
    """
)


def test_eight_processes_log_into_one_sqlite_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(home), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    run_ids = [out.strip() for out, _ in outputs]

    engine = sa.create_engine(f"sqlite:///{home / 'keel.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        per_run = dict(
            conn.execute(sa.text("SELECT run_id, count(*) FROM metrics GROUP BY run_id")).all()
        )
        params = dict(
            conn.execute(sa.text("SELECT run_id, count(*) FROM run_params GROUP BY run_id")).all()
        )
        statuses = set(conn.execute(sa.text("SELECT status FROM runs")).scalars())
        experiments = conn.execute(sa.text("SELECT count(*) FROM experiments")).scalar()
    engine.dispose()
    assert experiments == 1  # the racing get-or-create made one experiment
    assert statuses == {"FINISHED"}
    assert {per_run[r] for r in run_ids} == {3000}
    assert {params[r] for r in run_ids} == {20}
