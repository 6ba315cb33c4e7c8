"""The SQLite online store: one ``WITHOUT ROWID`` table keyed by (project, view, entity).

A lookup is one statement (a ``UNION ALL`` of one ``SELECT ... IN (...)`` per view) on a
connection of the calling thread (sqlite3 keeps the statement compiled). A
materialization is one transaction: its records and its watermark are committed
together or not at all, so a killed run leaves the store as it was. WAL mode lets lookups go on while a materialization writes.
"""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from keel.features._online import (
    OnlineStore,
    OnlineStoreUnavailableError,
    Watermark,
    check_name,
)

__all__ = ["SQLiteOnlineStore"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS online_records (
        project TEXT NOT NULL, view TEXT NOT NULL, entity_key BLOB NOT NULL,
        record BLOB NOT NULL, PRIMARY KEY (project, view, entity_key)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS online_watermarks (
        project TEXT NOT NULL, view TEXT NOT NULL, fingerprint TEXT NOT NULL,
        event_us INTEGER NOT NULL, source_event_us INTEGER NOT NULL,
        materialized_us INTEGER NOT NULL, rows INTEGER NOT NULL, view_version INTEGER NOT NULL,
        PRIMARY KEY (project, view)) WITHOUT ROWID""",
)
# Keep the stored record unless the new one is at least as new (bytes 10-17: the event
# time, comparable as bytes) or was written for another schema (bytes 2-9).
_UPSERT = """INSERT INTO online_records (project, view, entity_key, record) VALUES (?, ?, ?, ?)
    ON CONFLICT (project, view, entity_key) DO UPDATE SET record = excluded.record
    WHERE substr(excluded.record, 2, 8) != substr(online_records.record, 2, 8)
       OR substr(excluded.record, 10, 8) >= substr(online_records.record, 10, 8)"""
_WATERMARK = """INSERT OR REPLACE INTO online_watermarks
    (project, view, fingerprint, event_us, source_event_us, materialized_us, rows, view_version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
_CHUNK = 500  # keys per IN list
_PER_STATEMENT = 4000  # keys per statement


@functools.lru_cache(maxsize=128)
def _select(sizes: tuple[int, ...]) -> str:
    """One statement reading several (view, keys) parts: a ``UNION ALL`` of one indexed
    ``IN`` lookup per part, ``sizes`` giving each part's key count (only placeholders go
    into the text). One statement per lookup, whatever the views: ~10 µs less than one
    per view for a lookup of two views, measured."""
    part = (
        "SELECT {i} AS part, entity_key, record FROM online_records "
        "WHERE project = ? AND view = ? AND entity_key IN ({marks})"
    )
    return " UNION ALL ".join(
        part.format(i=i, marks=",".join("?" * n)) for i, n in enumerate(sizes)
    )


def _parts(
    lookups: Sequence[tuple[str, Sequence[bytes]]],
) -> list[list[tuple[int, str, Sequence[bytes]]]]:
    """The lookups cut into statements: parts of at most ``_CHUNK`` keys, at most
    ``_PER_STATEMENT`` keys a statement (well under SQLite's parameter limit)."""
    statements: list[list[tuple[int, str, Sequence[bytes]]]] = [[]]
    size = 0
    for index, (view, keys) in enumerate(lookups):
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            if size + len(chunk) > _PER_STATEMENT and statements[-1]:
                statements.append([])
                size = 0
            statements[-1].append((index, view, chunk))
            size += len(chunk)
    return [s for s in statements if s]


class SQLiteOnlineStore(OnlineStore):
    """The online store in an SQLite file.

    Args:
        path: the database file (created, with its folder, on first use).
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._ready = False

    @property
    def uri(self) -> str:
        return f"sqlite:///{self._path}"

    def __repr__(self) -> str:
        return f"SQLiteOnlineStore({str(self._path)!r})"

    def _unavailable(self, exc: Exception) -> OnlineStoreUnavailableError:
        return OnlineStoreUnavailableError(
            f"cannot use the online store {self.uri} ({exc}); check that the folder is "
            "writable and the file is an SQLite database, or set KEEL_ONLINE_STORE"
        )

    def _connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is not None:
            return con
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(
                self._path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                with self._lock:
                    for statement in _SCHEMA:
                        con.execute(statement)
                    self._ready = True
        except (sqlite3.Error, OSError) as exc:
            raise self._unavailable(exc) from None
        self._local.con = con
        with self._lock:
            self._connections.append(con)
        return con

    def write(
        self,
        project: str,
        view: str,
        records: Iterable[Sequence[tuple[bytes, bytes]]],
        watermark: Watermark,
    ) -> int:
        check_name("project", project)
        check_name("view", view)
        con = self._connection()
        written = 0
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                given = 0
                for batch in records:
                    given += len(batch)
                    before = con.total_changes
                    con.executemany(_UPSERT, [(project, view, k, r) for k, r in batch])
                    written += con.total_changes - before
                w = dataclasses.replace(watermark, rows=given)
                con.execute(
                    _WATERMARK,
                    (
                        project,
                        view,
                        w.fingerprint,
                        w.event_us,
                        w.source_event_us,
                        w.materialized_us,
                        w.rows,
                        w.view_version,
                    ),
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        return written

    def read(
        self, project: str, lookups: Sequence[tuple[str, Sequence[bytes]]]
    ) -> list[list[bytes | None]]:
        con = self._connection()
        found: list[dict[bytes, bytes]] = [{} for _ in lookups]
        try:
            for statement in _parts(lookups):
                sql = _select(tuple(len(chunk) for _, _, chunk in statement))
                params: list[Any] = []
                for _, view, chunk in statement:
                    params += (project, view, *chunk)
                indices = [index for index, _, _ in statement]
                for part, key, record in con.execute(sql, params).fetchall():
                    found[indices[part]][key] = record
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        return [[f.get(k) for k in keys] for f, (_, keys) in zip(found, lookups, strict=True)]

    def watermark(self, project: str, view: str) -> Watermark | None:
        con = self._connection()
        try:
            row = con.execute(
                "SELECT fingerprint, event_us, source_event_us, materialized_us, rows, "
                "view_version FROM online_watermarks WHERE project = ? AND view = ?",
                (project, view),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        if row is None:
            return None
        return Watermark(*row)

    def delete_view(self, project: str, view: str) -> int:
        con = self._connection()
        try:
            con.execute("BEGIN IMMEDIATE")
            cursor = con.execute(
                "DELETE FROM online_records WHERE project = ? AND view = ?", (project, view)
            )
            con.execute(
                "DELETE FROM online_watermarks WHERE project = ? AND view = ?", (project, view)
            )
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise self._unavailable(exc) from None
        return cursor.rowcount

    def count(self, project: str, view: str) -> int:
        con = self._connection()
        try:
            (n,) = con.execute(
                "SELECT count(*) FROM online_records WHERE project = ? AND view = ?",
                (project, view),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        return int(n)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for con in connections:
            con.close()
