"""open_store: the backend by URI scheme, bound to a project; backend-only options from settings."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from keel.config import Settings
from keel.errors import InvalidArgumentError
from keel.store import Migratable, Store, open_store, upgrade_store
from keel.store._sql import SqlStore


def test_an_unknown_scheme_is_refused_naming_the_ones_known() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"unknown scheme; use sqlite:///PATH.*http\(s\)"
    ):
        open_store("mysql://nope")


def test_a_server_url_needs_the_rest_store() -> None:
    try:
        import keel.store.rest  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(InvalidArgumentError, match="no REST store"):
            open_store("https://ana:s3cret@keel.example")
        with pytest.raises(InvalidArgumentError) as info:
            open_store("https://ana:s3cret@keel.example")
        assert "s3cret" not in str(info.value)


def test_sqlite_options_come_from_the_settings(tmp_path: Path) -> None:
    for level, pragma in (("FULL", 2), ("NORMAL", 1)):
        store = open_store(
            f"sqlite:///{tmp_path / f'{level}.db'}", settings=Settings(sqlite_synchronous=level)
        )
        store.open()
        with store.database.read() as conn:  # type: ignore[attr-defined]
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
        store.close()


def test_the_project_is_passed_to_the_sql_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'p.db'}"
    if "project" in inspect.signature(SqlStore.__init__).parameters:
        store = open_store(uri, project="fraud")
        assert store.project == "fraud"  # type: ignore[attr-defined]
    else:
        with pytest.raises(InvalidArgumentError, match="'fraud' was asked for"):
            open_store(uri, project="fraud")
    assert isinstance(open_store(uri), SqlStore)


def test_upgrade_needs_the_migratable_capability(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    assert isinstance(store, Migratable)
    store.close()

    # a store with a server behind it, say: every abstract member filled, no migrations
    members: dict[str, object] = dict.fromkeys(Store.__abstractmethods__)
    members.update(uri="https://keel.example", open=lambda self: None, close=lambda self: None)
    no_migrations = type("NoMigrations", (Store,), members)

    with pytest.raises(InvalidArgumentError, match="no schema migrations to apply from here"):
        upgrade_store(no_migrations())
