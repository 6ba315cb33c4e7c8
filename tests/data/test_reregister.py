"""Registering content a dataset already has: said plainly, and expectations are not dropped.

Over SQLite and PostgreSQL, through the SDK and through the real ``keel`` command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.config import Settings
from keel.errors import ConflictError
from keel.tracking import Client

FRAME = pd.DataFrame({"petal": [1.0, 2.0, 3.5], "species": ["a", "b", "a"]})
PASSES = {"columns": {"petal": {"max": 4}, "species": {"allowed": ["a", "b"]}}}
OTHER = {"columns": {"petal": {"min": 0}}}
FAILS = {"columns": {"species": {"allowed": ["a"]}}}


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request: pytest.FixtureRequest, keel_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{keel_home / 'keel.db'}"
    uri: str = request.getfixturevalue("pg_schema_uri")
    return uri


@pytest.fixture
def backend(store_uri: str, keel_home: Path, install_client) -> Client:
    client: Client = install_client(Settings(home=keel_home, store_uri=store_uri))
    return client


def test_identical_content_says_it_was_not_new(backend: Client) -> None:
    first = keel.datasets.register(FRAME, "good")
    again = keel.datasets.register(FRAME.copy(), "good")
    assert (first.created, again.created) == (True, False)
    assert again == first and str(again) == "good/1"
    assert keel.datasets.get("good").created is None  # read, not registered


def test_expectations_for_an_existing_version_are_validated_and_recorded(
    backend: Client,
) -> None:
    keel.datasets.register(FRAME, "good")
    assert keel.datasets.get("good/1").validation is None
    again = keel.datasets.register(FRAME, "good", expectations=PASSES)
    assert again.created is False and again.version == 1
    assert again.validation is not None and again.validation.passed
    stored = keel.datasets.get("good/1")
    assert stored.validation is not None and stored.valid
    assert [c.check for c in stored.validation.checks] == [c.check for c in again.validation.checks]
    # the same expectations again: nothing to change, nothing refused
    assert keel.datasets.register(FRAME, "good", expectations=PASSES).created is False


def test_failing_expectations_for_an_existing_version(backend: Client) -> None:
    keel.datasets.register(FRAME, "good")
    with pytest.raises(keel.KeelError, match="fails its expectations, so nothing was registered"):
        keel.datasets.register(FRAME, "good", expectations=FAILS)
    assert keel.datasets.get("good/1").validation is None
    marked = keel.datasets.register(FRAME, "good", expectations=FAILS, allow_invalid=True)
    assert marked.created is False and not marked.valid
    assert not keel.datasets.get("good/1").valid


def test_other_expectations_on_a_validated_version_are_refused_and_change_nothing(
    backend: Client, tmp_path: Path
) -> None:
    data = tmp_path / "good.csv"
    FRAME.to_csv(data, index=False)
    keel.datasets.register(data, "good", expectations=PASSES)
    moved = tmp_path / "moved.csv"
    shutil.copy(data, moved)
    before = keel.datasets.get("good/1")
    assert before.validation is not None
    edges_before = backend.store.lineage.upstream(before.lineage_node()).edges
    with pytest.raises(ConflictError, match="good/1 already holds this content and was validated"):
        keel.datasets.register(moved, "good", expectations=OTHER)
    stored = keel.datasets.get("good/1")
    assert stored.validation is not None
    assert stored.validation.to_dict() == before.validation.to_dict()
    edges_after = backend.store.lineage.upstream(stored.lineage_node()).edges
    assert edges_after == edges_before  # no lineage edge from moved.csv either


def test_cli_says_unchanged_and_keeps_expectations(
    store_uri: str, tmp_path: Path, datasets_cli
) -> None:
    def _cli(uri: str, *args: str):
        return datasets_cli(*args, env={"KEEL_STORE_URI": uri})

    data = tmp_path / "good.csv"
    FRAME.to_csv(data, index=False)
    spec = tmp_path / "expect.yaml"
    spec.write_text("columns:\n  petal: {max: 4}\n  species: {allowed: [a, b]}\n")

    first = _cli(store_uri, "register", str(data), "--name", "good", "-q")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("registered good/1:")
    again = _cli(store_uri, "register", str(data), "--name", "good", "-q")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("unchanged: already good/1:")
    assert "registered" not in again.stdout

    with_spec = _cli(store_uri, "register", str(data), "--name", "good", "-e", str(spec), "-q")
    assert with_spec.returncode == 0, with_spec.stderr
    assert with_spec.stdout.startswith("unchanged: already good/1:")
    assert "validation recorded on good/1: all 2 checks passed" in with_spec.stdout
    show = _cli(store_uri, "show", "good/1")
    assert "no expectations were given" not in show.stdout
    assert "validation: 2 checks, passed" in show.stdout
    shown = json.loads(_cli(store_uri, "show", "good/1", "--json").stdout)
    assert shown["validation"]["passed"] is True and shown["reference"] == "good/1"
