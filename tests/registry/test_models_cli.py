"""``keel models ...`` addresses models by reference (iris/3, iris@champion) everywhere.

The former ``-v/--version`` and ``--alias`` spellings still work for one release, each
with a one-line deprecation notice on stderr that shows the new form.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import keel.governance

KEEL = Path(sys.executable).with_name("keel")


def _keel(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200", "KEEL_ACTOR": "ann"}
    return subprocess.run(
        [str(KEEL), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def models(client: Any, register_model: Any, keel_home: Path) -> Path:
    register_model(metrics={"f1_macro": 0.95}, onnx=False)
    register_model(metrics={"f1_macro": 0.96}, onnx=False)
    policy = keel_home.parent / "policy.yaml"
    policy.write_text("checks:\n  - metric: f1_macro >= 0.9\n")
    return keel_home


def _policy(home: Path) -> str:
    return str(home.parent / "policy.yaml")


def test_references_everywhere(models: Path) -> None:
    promoted = _keel(
        models, "models", "promote", "iris/1", "--to", "champion", "-p", _policy(models)
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "iris@champion now points to version 1" in promoted.stdout
    assert promoted.stderr == ""
    again = _keel(models, "models", "promote", "iris/2", "--to", "champion", "-p", _policy(models))
    assert again.returncode == 0 and "(was version 1)" in again.stdout
    shown = _keel(models, "models", "show", "iris@champion", "--json")
    assert '"version": 2' in shown.stdout
    history = _keel(models, "models", "history", "iris@champion")
    assert history.returncode == 0 and history.stderr == "" and "@champion" in history.stdout
    back = _keel(models, "models", "rollback", "iris@champion", "--reason", "incident")
    assert back.returncode == 0 and back.stderr == ""
    assert "iris@champion rolled back from version 2 to version 1" in back.stdout
    # An alias can be promoted by its reference too: the challenger's version becomes champion.
    _keel(models, "models", "promote", "iris/2", "--to", "challenger", "-p", _policy(models))
    via_alias = _keel(models, "models", "promote", "iris@challenger", "-p", _policy(models))
    assert via_alias.returncode == 0 and "iris@champion now points to version 2" in via_alias.stdout
    keel.governance.grant_role("ann", "admin")
    deleted = _keel(models, "models", "delete-alias", "iris@challenger", "--reason", "done")
    assert deleted.returncode == 0 and "deleted iris@challenger" in deleted.stdout


def test_the_former_options_work_with_a_deprecation_line(models: Path) -> None:
    old = _keel(models, "models", "promote", "iris", "-v", "1", "--to", "champion", "-p", "p.yaml")
    assert old.returncode == 1  # p.yaml does not exist: the notice still comes first
    assert old.stderr.splitlines()[0] == (
        "deprecated: keel models promote NAME -v N will be removed in the next release; "
        "write: keel models promote iris/1 --to champion --policy p.yaml"
    )
    policy = _policy(models)
    works = _keel(models, "models", "promote", "iris", "--version", "1", "-p", policy)
    assert works.returncode == 0 and "now points to version 1" in works.stdout
    show = _keel(models, "models", "show", "iris", "-v", "1")
    assert show.returncode == 0 and "write: keel models show iris/1" in show.stderr
    rollback = _keel(models, "models", "rollback", "iris", "--alias", "champion")
    assert rollback.returncode == 1  # no previous holder, but the notice shows the new form
    assert "write: keel models rollback iris@champion" in rollback.stderr
    history = _keel(models, "models", "history", "iris", "-a", "champion")
    assert history.returncode == 0 and "write: keel models history iris@champion" in history.stderr
    assert len(history.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("promote", "iris/1", "-v", "2"), "'iris/1' is already a reference; drop -v/--version"),
        (("promote", "iris", "-p", "x.yaml"), "which version of 'iris'? Give a reference such as"),
        (("rollback", "iris/1"), "takes an alias reference such as iris@champion, not the version"),
        (("rollback", "iris@champion", "--alias", "x"), "already names an alias; drop --alias"),
        (("delete-alias", "iris"), "takes an alias reference such as iris@challenger"),
        (("versions", "iris/2"), "takes a model name, not the reference 'iris/2'"),
        (("show", "iris/x"), "model reference 'iris/x' names version 'x'"),
        (("show", "iris@"), "model reference 'iris@' is malformed; use NAME/VERSION"),
        (("show", "iris/" + "9" * 200), "..."),
    ],
)
def test_bad_references_are_one_clear_line(
    models: Path, args: tuple[str, ...], message: str
) -> None:
    done = _keel(models, "models", *args)
    assert done.returncode == 1, done.stdout
    assert message in " ".join(done.stderr.split())
    assert "URI" not in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr) < 400


def test_help_speaks_of_references(models: Path) -> None:
    for command in ("promote", "show", "rollback", "history", "load-check", "archive"):
        text = _keel(models, "models", command, "--help").stdout
        assert "REF" in text and "URI" not in text, command
