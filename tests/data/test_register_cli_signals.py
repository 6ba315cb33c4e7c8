"""``keel datasets register`` as a user runs it: no progress before an early error, and a
Ctrl-C (a real SIGINT to the real console script) that leaves the store as it was."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def _register(*args: str, progress: str = "1") -> subprocess.CompletedProcess[str]:
    # KEEL_PROGRESS=1: the bar a user sees on a terminal, although stderr is a pipe here
    return subprocess.run(
        [KEEL, "datasets", "register", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "KEEL_PROGRESS": progress},
        timeout=120,
    )


def _store_state(home: Path) -> tuple[object, ...]:
    """What a registration leaves: metadata rows, artifact objects, temporary files."""
    import sqlite3

    db = sqlite3.connect(home / "keel.db")
    try:
        rows = tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("datasets", "dataset_versions", "lineage_nodes", "lineage_edges")
        )
    finally:
        db.close()
    files = sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not p.name.startswith("keel.db")
    )
    return rows, files


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (None, "good", "does not exist"),
        (b"id,ID\n1,2\n", "good", "appears twice"),
        (b"\x00\x01\x02binary" * 100, "good", "looks binary"),
        (b"a,b\n1,2\n", "Bad Name", "is invalid"),
    ],
)
def test_an_early_error_shows_no_progress(
    keel_home: Path, tmp_path: Path, content: bytes | None, name: str, expected: str
) -> None:
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    out = _register(str(path), "--name", name)  # progress on, as a user runs it
    assert out.returncode == 1
    assert expected in out.stderr
    assert "reading" not in out.stderr + out.stdout
    assert "%" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_progress_is_still_shown_for_real_work(keel_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    out = _register(str(path), "--name", "ok")
    assert out.returncode == 0, out.stderr
    assert "reading ok.csv" in out.stderr and "100%" in out.stderr


def test_no_progress_bar_in_a_pipe_unless_asked(keel_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    env = {k: v for k, v in os.environ.items() if k != "KEEL_PROGRESS"}
    out = subprocess.run(
        [KEEL, "datasets", "register", str(path), "--name", "ok"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "registered ok/1" in out.stdout
    assert "reading" not in out.stderr and "%" not in out.stderr  # stderr is not a terminal


def _big_csv(path: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(
        "COPY (SELECT i AS id, 'text ' || md5(i::VARCHAR) AS note, i * 0.5 AS amount "
        f"FROM range({rows}) t(i)) TO '{path}' (FORMAT csv, HEADER)"
    )
    con.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_data_being_written(proc: subprocess.Popen[str], tmp: Path) -> None:
    """Return once the ingest's Parquet file exists and has its first row group."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "register finished before it could be interrupted"
        written = [p for p in tmp.glob("dataset-*/data.parquet") if p.stat().st_size > 0]
        if written:
            return
        time.sleep(0.01)
    pytest.fail("the ingest never started writing")


def test_ctrl_c_during_register_says_so_and_registers_nothing(
    keel_home: Path, tmp_path: Path
) -> None:
    small = tmp_path / "small.csv"
    small.write_text("a\n1\n")
    assert _register(str(small), "--name", "before", "-q").returncode == 0
    before = _store_state(keel_home)
    big = tmp_path / "big.csv"
    _big_csv(big, 3_000_000)  # ~170 MB: seconds of ingest to interrupt

    proc = subprocess.Popen(
        [KEEL, "datasets", "register", str(big), "--name", "big"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        # as from an interactive shell: Ctrl-C not ignored, whatever this process inherited
        preexec_fn=_default_sigint,
    )
    try:
        _wait_for_data_being_written(proc, keel_home / "tmp")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; nothing was registered" in err
    assert "Traceback" not in err
    assert "registered" not in out
    assert _store_state(keel_home) == before
    assert list((keel_home / "tmp").iterdir()) == []


def test_a_ctrl_c_a_library_swallowed_still_stops_the_register() -> None:
    """DuckDB checks for signals while it runs a query and may drop a KeyboardInterrupt
    that comes as the query ends; the ledger keeps it for the next safe point."""
    from keel.data._progress import InterruptLedger

    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        _swallowed_interrupt_is_kept(InterruptLedger)
    finally:
        signal.signal(signal.SIGINT, inherited)


def _swallowed_interrupt_is_kept(ledger_class: type) -> None:
    with ledger_class() as ledger:
        try:  # what a C extension that catches the interrupt and carries on does
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs at the next bytecode; never sleeps this long
        except KeyboardInterrupt:
            pass
        with pytest.raises(KeyboardInterrupt):
            ledger.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
