"""What keel.train prints on stderr: a live progress line on a terminal (search workers
included), one line naming the run when it ends, and nothing when asked to be quiet."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sklearn.tree import DecisionTreeClassifier

import keel

SCRIPT = textwrap.dedent(
    """
    import sys
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier
    import keel

    if __name__ == "__main__":
        iris = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
        keel.train(
            DecisionTreeClassifier(random_state=0), iris, target="species", experiment="iris",
            run_name="tty", cv=3, evaluation=False,
            search={"method": "random", "n_trials": 4, "n_jobs": int(sys.argv[1]),
                    "space": {"max_depth": {"type": "int", "low": 1, "high": 5}}},
        )
    """
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_END_LINE = re.compile(r"keel: run ([0-9a-f]{32}) 'tty' \(experiment 'iris'\) ended: FINISHED")


def _on_a_terminal(tmp_path: Path, n_jobs: int, **env: str) -> list[str]:
    """Run the script with stdout and stderr on a pseudo-terminal; the states shown."""
    script = tmp_path / "train_on_tty.py"
    script.write_text(SCRIPT)
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    }
    environ.update(TERM="xterm", COLUMNS="150", **env)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(n_jobs)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environ,
        close_fds=True,
    )
    os.close(slave)
    out = bytearray()
    give_up = time.monotonic() + 600  # a guard against a hung child, not a timing check
    while time.monotonic() < give_up:
        ready, _, _ = select.select([master], [], [], 5)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, out.decode(errors="replace")[-3000:]
    text = _ANSI.sub("", out.decode(errors="replace"))
    states: list[str] = []
    for part in re.split(r"[\r\n]+", text):
        state = re.sub(r"[━╸╺]+", " ", part).strip()
        if state and (not states or states[-1] != state):
            states.append(state)
    return states


def _stored_run(client) -> str:
    (run,) = [r for r in client.search_runs("iris") if r.parent_run_id is None]
    assert run.status == "FINISHED"
    return run.id


@pytest.mark.parametrize("n_jobs", [1, 2], ids=["in-process", "worker-processes"])
def test_a_terminal_shows_every_trial_and_fold_then_the_run(client, tmp_path, n_jobs) -> None:
    states = _on_a_terminal(tmp_path, n_jobs)
    shown = "\n".join(states)
    # every trial's end reaches the one line, from worker processes too
    for done in range(1, 5):
        assert f"iris: search: {done}/4 trials" in shown, shown
    assert re.search(r"search: \d/4 trials · trial \d fold 3/3", shown), shown
    assert "iris: cross-validation: fold 3/3" in shown
    assert "iris: storing the model" in shown
    assert re.search(r"iris: done .*1/1", shown)
    ended = [m for s in states if (m := _END_LINE.search(s))]
    assert len(ended) == 1 and ended[0].group(1) == _stored_run(client)


def test_keel_progress_0_is_quiet_on_a_terminal(client, tmp_path) -> None:
    states = _on_a_terminal(tmp_path, 1, KEEL_PROGRESS="0")
    assert states == []
    _stored_run(client)


def test_not_a_terminal_prints_only_the_end_line(client, iris, capfd) -> None:
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="iris",
        run_name="tty",
        cv=2,
        evaluation=False,
        search={"n_trials": 2, "space": {"max_depth": {"type": "int", "low": 1, "high": 3}}},
    )
    err = capfd.readouterr().err
    assert err.splitlines() == [
        f"keel: run {result.run_id} 'tty' (experiment 'iris') ended: FINISHED"
    ]


def test_progress_false_prints_nothing_and_a_failed_run_is_named(client, iris, capfd) -> None:
    keel.train(
        DecisionTreeClassifier(),
        iris,
        target="species",
        experiment="iris",
        cv=2,
        evaluation=False,
        progress=False,
    )
    assert capfd.readouterr().err == ""
    bad = iris.assign(sepal=float("inf"))
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError):
        keel.train(LogisticRegression(), bad, target="species", experiment="iris", cv=2)
    (failed,) = [r for r in client.search_runs("iris") if r.status == "FAILED"]
    err = capfd.readouterr().err
    assert f"keel: run {failed.id} {failed.name!r} (experiment 'iris') ended: FAILED" in err
