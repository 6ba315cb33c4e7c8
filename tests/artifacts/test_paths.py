"""Artifact names that could escape their run or confuse a filesystem are refused."""

from __future__ import annotations

import pytest

import keel
from keel.artifacts import check_artifact_path
from keel.errors import InvalidPathError


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../secret.txt", "'..' segment"),
        ("plots/../../etc/passwd", "'..' segment"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/x", "absolute path"),
        ("a\x00b", "NUL byte"),
        ("plots\\roc.png", "backslash"),
        ("plots//roc.png", "empty segment"),
        ("plots/", "empty segment"),
        ("", "empty"),
        ("./x", "'.' segment"),
        ("a/\nb", "control character"),
    ],
)
def test_bad_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidPathError, match=reason) as info:
        check_artifact_path(name)
    assert "plots/roc.png" in str(info.value) or "limit" in str(info.value)


@pytest.mark.parametrize(
    "name", ["model.skops", "plots/roc.png", "a/b/c.d.e", "ünïcode/naïve.txt", "..a/b.."]
)
def test_good_names_pass(name: str) -> None:
    assert check_artifact_path(name) == name


def test_refused_name_stores_nothing(client) -> None:
    with keel.start_run(experiment="paths") as run:
        with pytest.raises(InvalidPathError):
            keel.log_text("x", "../escape.txt")
        with pytest.raises(InvalidPathError):
            keel.log_dict({}, "/abs.json")
    assert client.list_artifacts(run.id) == []
    objects = client.artifacts.root
    import pathlib

    assert not list(pathlib.Path(objects).rglob("*")) or not list(
        (pathlib.Path(objects) / "objects").rglob("*")
    )
