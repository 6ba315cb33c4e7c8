"""The SQL implementation of the metadata store (SQLite and PostgreSQL)."""

from __future__ import annotations

from keel.store._sql._store import SqlStore

__all__ = ["SqlStore"]
