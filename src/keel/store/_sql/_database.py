"""Connections, transactions and migrations for the SQL store.

SQLite runs in WAL mode with foreign keys on. Every write transaction starts with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout instead of
failing with "database is locked" when a read lock cannot be upgraded. PostgreSQL
uses its normal transactions; migrations there are serialised by an advisory lock.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from keel._redact import redact, safe_uri
from keel.errors import StoreError

__all__ = ["Database", "dialect_insert"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_BUSY_TIMEOUT_S = 120.0
# Arbitrary constant naming keel's migration lock among PostgreSQL advisory locks.
_PG_MIGRATION_LOCK = 0x6B65656C


class Database:
    """An SQLAlchemy engine plus keel's transaction discipline.

    Args:
        uri: ``sqlite:///PATH`` or ``postgresql+psycopg://...``.
        sqlite_synchronous: the ``synchronous`` pragma for SQLite.

    Nothing is opened until :meth:`open`.
    """

    def __init__(self, uri: str, sqlite_synchronous: str = "NORMAL") -> None:
        self.uri = uri
        self._sqlite_synchronous = sqlite_synchronous
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        """Whether the backend is SQLite."""
        return self.uri.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        """The engine; opens the database on first use."""
        if self._engine is None:
            self.open()
        assert self._engine is not None  # for mypy: open() sets it or raises
        return self._engine

    def open(self) -> None:
        """Create the engine and apply pending migrations. Idempotent and thread-safe."""
        with self._lock:
            if self._engine is not None:
                return
            engine = self._create_engine()
            try:
                self._migrate(engine)
            except sa.exc.OperationalError as exc:
                engine.dispose()
                raise StoreError(
                    f"cannot open the metadata store {safe_uri(self.uri)}: "
                    f"{redact(str(exc.orig), self.uri)}; "
                    "check that the server runs and the URI (KEEL_STORE_URI) is right"
                ) from None
            self._engine = engine

    def close(self) -> None:
        """Dispose of the engine's connections."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            path = self.uri.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(
                self.uri,
                connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            )
            synchronous = self._sqlite_synchronous

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                # Take transaction control from the sqlite3 module so BEGIN is ours.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA synchronous={synchronous}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_TIMEOUT_S * 1000)}")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                if conn.get_execution_options().get("keel_write"):
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    conn.exec_driver_sql("BEGIN")

            return engine
        return sa.create_engine(self.uri, pool_pre_ping=True, pool_size=5, max_overflow=10)

    def insert(self, table: sa.Table) -> Any:
        """An INSERT for this dialect, with ``on_conflict_do_update/nothing`` (an upsert)."""
        from sqlalchemy.dialects import postgresql, sqlite

        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside a write transaction, committed on success."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(keel_write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a read transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- migrations -------------------------------------------------------------------

    def _migrate(self, engine: Engine) -> None:
        wanted = expected_heads()
        with engine.connect() as conn:
            current = _current_heads(conn)
            conn.rollback()
        if current == wanted:
            return  # the common case, decided without importing alembic
        with engine.connect() as conn:
            # SQLite changes a primary key by rebuilding the table, and DROP TABLE with
            # foreign keys on deletes the children's rows (ON DELETE CASCADE). SQLite's
            # own procedure: foreign keys off (outside the transaction, where the pragma
            # works), migrate, check every key, commit, foreign keys on again.
            raw = conn.connection.dbapi_connection if self.is_sqlite else None
            if raw is not None:
                raw.cursor().execute("PRAGMA foreign_keys=OFF")
            try:
                conn = conn.execution_options(keel_write=True)
                with conn.begin():
                    if not self.is_sqlite:
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                        )
                    # Another process may have migrated while we waited for the lock.
                    if _current_heads(conn) != wanted:
                        run_migrations(conn)
                        if self.is_sqlite:
                            _check_foreign_keys(conn)
            finally:
                if raw is not None:
                    raw.cursor().execute("PRAGMA foreign_keys=ON")


def dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """An INSERT for the connection's dialect, with ``on_conflict_do_update/nothing``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return sqlite.insert(table) if conn.dialect.name == "sqlite" else postgresql.insert(table)


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


@functools.cache
def expected_heads() -> frozenset[str]:
    """The head of every migration branch, read from the revision files' headers.

    Reading two assignments per file is enough to know whether a store is current,
    and it avoids importing alembic (a tenth of a second) on every open.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(text)
        if down is not None:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return frozenset(revisions - parents)


def _check_foreign_keys(conn: Connection) -> None:
    """Refuse to commit a migration that left a foreign key pointing nowhere (SQLite)."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        shown = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:5])
        raise StoreError(
            f"migrating the metadata store would leave {len(broken)} broken reference(s) "
            f"({shown}); nothing was changed. Report this with the output of "
            "`sqlite3 keel.db 'PRAGMA foreign_key_check'`"
        )


def _current_heads(conn: Connection) -> frozenset[str]:
    if not sa.inspect(conn).has_table("alembic_version"):
        return frozenset()
    return frozenset(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def run_migrations(conn: Connection, target: str = "heads") -> None:
    """Apply migrations on an open connection inside the caller's transaction."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)
