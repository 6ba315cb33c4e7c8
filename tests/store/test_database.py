"""The SQL database layer: pragmas, migrations, and the fast up-to-date check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from keel.store import open_store, upgrade_store
from keel.store._sql._database import _MIGRATIONS, expected_heads


def test_expected_heads_match_alembic() -> None:
    from alembic.script import ScriptDirectory

    assert expected_heads() == frozenset(ScriptDirectory(str(_MIGRATIONS)).get_heads())


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    store.open()
    with store.database.read() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_migrations_apply_once_and_upgrade_is_idempotent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(uri)
    assert set(upgrade_store(store)) == expected_heads()
    assert set(upgrade_store(store)) == expected_heads()
    store.close()
    engine = sa.create_engine(uri)
    with engine.connect() as conn:
        heads = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    assert heads == expected_heads()


def test_opening_a_current_store_does_not_import_alembic(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    open_store(uri).open()  # creates and migrates
    code = (
        "import sys\nfrom keel.store import open_store\n"
        f"s = open_store({uri!r}); s.open(); s.close()\n"
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
