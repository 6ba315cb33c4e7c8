"""No CLI command shows the store's password, whether it works or fails.

Every command of the Typer app (found by walking it, so a new command is covered the
day it is added) runs against ``postgresql://postgres:secret@...``. The server's trust
authentication ignores the password, so the commands really work; their stdout and
stderr must not contain it. A command without an entry in ``WORKING`` below runs with
placeholder arguments, which exercises its error path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

from keel.cli import app

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"
SECRET = "secret"

PIPELINE = """
import keel

@keel.step
def numbers() -> list[int]:
    return [1, 2, 3]

@keel.step
def total(numbers: list[int]) -> int:
    return sum(numbers)

pipeline = keel.Pipeline("leak", [numbers, total])
"""

TRAIN = """
model: {class: sklearn.tree.DecisionTreeClassifier, params: {max_depth: 2}}
data: iris.csv
target: species
cv: 2
evaluation: [accuracy]
"""

# Arguments with which each command works on the store built below; {run1}, {run2} and
# {pipeline_run} are filled in. In this order: the changes come last.
WORKING: dict[str, list[str]] = {
    "doctor": [],
    "server": ["--check"],
    "db upgrade": [],
    "experiments list": [],
    "runs list": ["--filter", "metrics.accuracy > 0.1"],
    "runs show": ["{run1}"],
    "runs download": ["{run1}", "--dest", "downloaded"],
    "runs compare": ["{run1}", "{run2}"],
    "datasets list": [],
    "datasets show": ["iris"],
    "datasets head": ["iris"],
    "datasets diff": ["iris-train", "iris-test"],
    "datasets validate": ["iris", "--expectations", "expect.yaml"],
    "datasets register": ["iris.csv", "--name", "flowers", "--quiet"],
    "datasets split": ["flowers", "--fraction", "a=0.5", "--fraction", "b=0.5"],
    "pipelines run": ["steps.py:pipeline"],
    "pipelines list": [],
    "pipelines show": ["{pipeline_run}"],
    "train": ["train.yaml"],
    "models list": [],
    "models versions": ["iris"],
    "models show": ["iris@champion"],
    "models load-check": ["iris@champion"],
    "models history": ["iris@champion"],
    "lineage": ["iris@champion"],
    "models promote": ["iris/2", "--to", "champion", "--policy", "policy.yaml"],
    "models rollback": ["iris@champion"],
    "models archive": ["iris/2"],
    "models delete-alias": ["iris@champion"],
    "roles grant": ["bob"],
    "roles list": [],
    "roles revoke": ["bob"],
    "audit list": [],
    "audit verify": [],
}


def leaf_commands() -> dict[str, object]:
    """Every runnable command of ``keel`` by its words, e.g. ``"runs list"``."""
    found: dict[str, object] = {}

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def error_path_args(command: object) -> list[str]:
    """Placeholder values for a command's required arguments and options."""
    args: list[str] = []
    for param in getattr(command, "params", []):
        if not getattr(param, "required", False):
            continue
        if param.param_type_name == "argument":
            args.append("no-such-thing")
        else:
            args += [param.opts[0], "1" if "version" in param.name else "no-such-thing"]
    return args


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def secret_store(
    pg_schema_uri: str, keel_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """A PostgreSQL store (its URI with a password) with runs, datasets, models, a pipeline."""
    import keel
    from keel.context import reset_default_context
    from keel.tracking import get_client, set_client

    uri = pg_schema_uri.replace(
        "postgresql+psycopg://postgres@", f"postgresql://postgres:{SECRET}@"
    )
    assert SECRET in uri
    monkeypatch.setenv("KEEL_STORE_URI", uri)
    monkeypatch.setenv("KEEL_ACTOR", "ana")  # made admin below: deleting an alias needs it
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    frame.to_csv("iris.csv", index=False)
    Path("expect.yaml").write_text("columns:\n  sepal_length: {min: 0}\n")
    Path("steps.py").write_text(PIPELINE)
    Path("train.yaml").write_text(TRAIN)
    Path("policy.yaml").write_text("checks:\n  - metric: accuracy >= 0.1\n")
    X, y = frame.drop(columns="species"), frame["species"]
    ids = {}
    for n, depth in ((1, 3), (2, 1)):
        with keel.start_run(experiment="leak", run_name=f"tree-{depth}") as active:
            model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
            keel.log_metric("accuracy", model.score(X, y))
            keel.sklearn.log_model(model, input_example=X.head(2))
        ids[f"run{n}"] = active.id
    keel.datasets.register("iris.csv", "iris")
    keel.datasets.split("iris", {"train": 0.8, "test": 0.2}, seed=0)
    first = keel.models.register(ids["run1"], "iris")
    keel.models.register(ids["run2"], "iris")
    keel.models.promote("iris", first.version, to="champion")
    pipeline_run = keel.pipelines.load_pipeline("steps.py:pipeline").run()
    ids["pipeline_run"] = pipeline_run.id
    keel.governance.grant_role("ana")
    get_client().close()
    set_client(None)
    default = reset_default_context()
    if default is not None:
        default.close()
    yield dict(os.environ), ids


@pytest.mark.slow
@pytest.mark.postgres
def test_no_command_prints_the_password(
    secret_store: tuple[dict[str, str], dict[str, str]],
) -> None:
    env, ids = secret_store
    commands = leaf_commands()
    stale = set(WORKING) - set(commands)
    assert not stale, f"WORKING names commands keel no longer has: {sorted(stale)}"
    order = [*WORKING, *sorted(set(commands) - set(WORKING))]
    cwd = Path.cwd()
    for name in order:
        if name in WORKING:
            args = [a.format(**ids) for a in WORKING[name]]
        else:
            args = error_path_args(commands[name])
        proc = run([*name.split(), *args], cwd, env)
        output = proc.stdout + proc.stderr
        assert SECRET not in output, f"keel {name} {' '.join(args)} printed the password:\n{output}"
        assert "Traceback" not in output, f"keel {name}: {output}"
        if name in WORKING:
            assert proc.returncode == 0, f"keel {name} {' '.join(args)}: {output}"


@pytest.mark.parametrize(
    "uri",
    [
        f"postgresql://postgres:{SECRET}@127.0.0.1:1/test",  # nothing listens on port 1
        f"postgresql://postgres@127.0.0.1:1/test?password={SECRET}&connect_timeout=2",
        f"mysql://postgres:{SECRET}@127.0.0.1/test",  # an unknown scheme
    ],
    ids=["password", "password-parameter", "unknown-scheme"],
)
@pytest.mark.parametrize(
    "command", [["runs", "list"], ["doctor"], ["audit", "verify"], ["db", "upgrade"]], ids=" ".join
)
def test_an_unreachable_store_is_reported_without_the_password(
    uri: str, command: list[str], tmp_path: Path
) -> None:
    proc = run(command, tmp_path, {**os.environ, "KEEL_STORE_URI": uri})
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert SECRET not in output, output
    assert "Traceback" not in output
    assert "***" in output  # the URI is still named, masked
