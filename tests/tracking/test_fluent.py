"""The fluent API against a real SQLite store and artifact folder."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import keel
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.store import RunStatus


def test_run_records_params_metrics_tags_and_ends_finished(client) -> None:
    with keel.start_run(experiment="iris", run_name="rf", tags={"team": "a"}) as run:
        keel.log_params({"n_estimators": 100, "criterion": "gini"})
        keel.log_param("seed", 7)
        for step in range(50):
            keel.log_metric("loss", 1 / (step + 1), step=step)
        keel.log_metrics({"accuracy": 0.96, "f1": 0.95})
        keel.set_tag("stage", "dev")
        assert keel.active_run() is run
    assert keel.active_run() is None
    got = client.get_run(run.id)
    assert got.status is RunStatus.FINISHED and got.end_time >= got.start_time
    assert got.params == {"n_estimators": "100", "criterion": "gini", "seed": "7"}
    assert got.metrics["accuracy"] == 0.96 and got.metrics["loss"] == 1 / 50
    assert got.tags["team"] == "a" and got.tags["stage"] == "dev"
    history = client.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(50))


def test_system_information_is_recorded(client, tmp_path: Path) -> None:
    with keel.start_run(experiment="sys") as run:
        pass
    tags = client.get_run(run.id).tags
    assert tags["keel.python"].count(".") == 2
    assert "scikit-learn" in json.loads(tags["keel.packages"])
    assert tags["keel.host"] and tags["keel.user"] and tags["keel.source.entry_point"]
    assert client.get_run(run.id).user == tags["keel.user"]


def test_git_commit_and_dirty_flag_inside_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    script = repo / "train.py"
    script.write_text(
        textwrap.dedent(
            """
        import keel
        with keel.start_run(experiment="git") as run:
            pass
        print(run.id)
        """
        )
    )
    for cmd in (["git", "init", "-q"], ["git", "add", "train.py"], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    home = tmp_path / "home"
    run_env = {**env, "KEEL_HOME": str(home)}
    clean = subprocess.run(
        [sys.executable, "train.py"],
        cwd=repo,
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    script.write_text(script.read_text() + "\n# edited\n")
    dirty = subprocess.run(
        [sys.executable, "train.py"],
        cwd=repo,
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    c = keel.Client(store_uri=f"sqlite:///{home / 'keel.db'}")
    assert c.get_run(clean).tags["keel.source.git_commit"] == commit
    assert c.get_run(clean).tags["keel.source.git_dirty"] == "false"
    assert c.get_run(dirty).tags["keel.source.git_dirty"] == "true"
    assert c.get_run(clean).tags["keel.source.entry_point"].endswith("train.py")
    c.close()


def test_exception_marks_run_failed_with_the_error(client) -> None:
    with pytest.raises(ZeroDivisionError), keel.start_run(experiment="e") as run:
        keel.log_metric("before", 1.0)
        _ = 1 / 0
    got = client.get_run(run.id)
    assert got.status is RunStatus.FAILED
    assert "ZeroDivisionError" in got.error and "Traceback" in got.error
    assert got.metrics["before"] == 1.0  # flushed before the run ended


def test_param_change_is_a_clear_error(client) -> None:
    with keel.start_run(experiment="e"):
        keel.log_param("lr", 0.1)
        keel.log_param("lr", 0.1)
        with pytest.raises(ConflictError, match="'lr'.*cannot change"):
            keel.log_param("lr", 0.2)


def test_nan_and_inf_metrics_read_back(client) -> None:
    with keel.start_run(experiment="e") as run:
        keel.log_metric("nan", math.nan)
        keel.log_metric("inf", math.inf)
        keel.log_metric("ninf", -math.inf)
    m = client.get_run(run.id).metrics
    assert math.isnan(m["nan"]) and m["inf"] == math.inf and m["ninf"] == -math.inf


def test_non_numeric_metric_is_refused(client) -> None:
    with (
        keel.start_run(experiment="e"),
        pytest.raises(InvalidArgumentError, match="metrics are numbers"),
    ):
        keel.log_metric("acc", "high")


def test_nested_runs(client) -> None:
    with keel.start_run(experiment="hpo") as parent:
        for i in range(3):
            with keel.start_run(run_name=f"trial-{i}", nested=True) as child:
                keel.log_metric("score", i)
                assert keel.active_run() is child
        assert keel.active_run() is parent
        with pytest.raises(InvalidArgumentError, match="already active"):
            keel.start_run(experiment="hpo")
    children = keel.search_runs(
        "hpo", filter=f"parent_run_id = '{parent.id}'", order_by=["metrics.score DESC"]
    )
    assert list(children["run_name"]) == ["trial-2", "trial-1", "trial-0"]


def test_logging_without_a_run_is_a_clear_error(client) -> None:
    with pytest.raises(InvalidArgumentError, match="no active run"):
        keel.log_metric("x", 1)


def test_search_runs_returns_a_dataframe(client) -> None:
    for name, model, acc in (("a", "rf", 0.95), ("b", "rf", 0.85), ("c", "lr", 0.97)):
        with keel.start_run(experiment="iris", run_name=name, tags={"team": "x"}):
            keel.log_param("model", model)
            keel.log_metric("accuracy", acc)
    df = keel.search_runs(
        "iris", filter="metrics.accuracy > 0.9 and params.model = 'rf' and tags.team = 'x'"
    )
    assert list(df["run_name"]) == ["a"]
    df = keel.search_runs("iris", order_by=["metrics.accuracy DESC"], max_results=2)
    assert list(df["run_name"]) == ["c", "a"]
    assert {"metrics.accuracy", "params.model", "tags.team", "status"} <= set(df.columns)
    with pytest.raises(NotFoundError, match="nearest: iris"):
        keel.search_runs("irsi")


def test_search_on_a_key_no_run_has_names_the_nearest(client) -> None:
    with keel.start_run(experiment="iris"):
        keel.log_param("model", "rf")
        keel.log_metric("accuracy", 0.9)
    with pytest.raises(
        NotFoundError, match="^no run in experiment 'iris' has a metric 'acc'; near"
    ):
        keel.search_runs("iris", filter="metrics.acc > 0.9")
    assert keel.search_runs("iris", filter="metrics.accuracy > 0.95").empty  # it exists


def test_artifacts_logged_listed_and_downloaded(client, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with keel.start_run(experiment="art") as run:
        keel.log_artifact(src / "a.txt", "files")
        keel.log_artifacts(src, "tree")
        keel.log_dict({"x": 1, "y": [1, 2]}, "config.json")
        keel.log_dict({"x": 1}, "config.yaml")
        keel.log_text("hello", "notes/readme.md")
        keel.log_figure(fig, "plots/line.png")
    plt.close(fig)
    names = [a.path for a in client.list_artifacts(run.id)]
    assert names == [
        "config.json",
        "config.yaml",
        "files/a.txt",
        "notes/readme.md",
        "plots/line.png",
        "tree/a.txt",
        "tree/sub/b.txt",
    ]
    assert [a.path for a in client.list_artifacts(run.id, "tree")] == [
        "tree/a.txt",
        "tree/sub/b.txt",
    ]
    png = client.load_artifact_bytes(run.id, "plots/line.png")
    assert png.startswith(b"\x89PNG")
    out = client.download_artifacts(run.id, "tree", tmp_path / "out")
    assert (out / "sub" / "b.txt").read_text() == "B"
    assert json.loads(client.load_artifact_bytes(run.id, "config.json")) == {"x": 1, "y": [1, 2]}
    with pytest.raises(NotFoundError, match="has no artifact 'nope.txt'; it has: config.json"):
        client.load_artifact_bytes(run.id, "nope.txt")


def test_tampered_artifact_is_refused_on_download(client, tmp_path: Path) -> None:
    with keel.start_run(experiment="art") as run:
        record = keel.log_text("original", "data.txt")
    obj = Path(client.artifacts.root) / "objects" / record.sha256[:2] / record.sha256
    obj.write_text("tampered")
    from keel.errors import ArtifactCorruptedError

    with pytest.raises(ArtifactCorruptedError, match="'data.txt' is corrupted"):
        client.download_artifacts(run.id, "data.txt", tmp_path / "dl")
    assert not (tmp_path / "dl" / "data.txt").exists()


SIGNAL_SCRIPT = textwrap.dedent(
    """
    import faulthandler
    import signal
    import sys
    import keel
    faulthandler.register(signal.SIGUSR1)  # the test asks for the stacks if it hangs
    with keel.start_run(experiment="signals") as run:
        keel.log_metric("alive", 1)
        print(run.id, flush=True)  # ready: inside the run, its SIGTERM handler installed
        sys.stdin.readline()       # blocks until the signal (or the parent goes away)
    """
)


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_marks_run_killed(tmp_path: Path, sig: signal.Signals) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(SIGNAL_SCRIPT)
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KEEL_HOME": str(home)},
        # a shell's background job inherits SIGINT ignored; a user's terminal does not
        preexec_fn=_default_signals,
    )
    assert proc.stdout is not None and proc.stdin is not None
    run_id = proc.stdout.readline().strip()  # the child's ready line
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)  # seconds on a loaded 2-core machine; a hang is a failure
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # its threads' stacks, for the failure message
        time.sleep(1)
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the child did not exit after {sig.name}; its stacks:\n{err}")
    proc.stdin.close()
    assert proc.stderr is not None
    proc.stderr.close()
    proc.stdout.close()
    assert proc.returncode != 0
    c = keel.Client(store_uri=f"sqlite:///{home / 'keel.db'}")
    run = c.get_run(run_id)
    assert run.status is RunStatus.KILLED
    assert ("SIGTERM" if sig == signal.SIGTERM else "SIGINT") in run.error
    assert run.metrics["alive"] == 1
    c.close()


def test_run_left_open_is_finished_at_exit(tmp_path: Path) -> None:
    script = tmp_path / "open.py"
    script.write_text(
        "import keel\nrun = keel.start_run(experiment='x')\nkeel.log_metric('m', 3)\nprint(run.id)\n"
    )
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KEEL_HOME": str(home)},
    ).stdout.strip()
    c = keel.Client(store_uri=f"sqlite:///{home / 'keel.db'}")
    assert c.get_run(out).status is RunStatus.FINISHED
    assert c.get_run(out).metrics == {"m": 3.0}
    c.close()


def test_log_input_writes_a_lineage_edge(client) -> None:
    from keel.store import LineageNode

    node = LineageNode("dataset_version", "d1", "iris/1")
    with keel.start_run(experiment="e", run_name="r") as run:
        keel.log_input(node, "trained_on")
    assert client.list_inputs(run.id) == [("trained_on", node)]
    with keel.start_run(experiment="e"), pytest.raises(InvalidArgumentError, match="run input"):
        keel.log_input("iris.csv")
