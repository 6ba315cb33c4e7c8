"""``project_objects``: which content-addressed objects each project may read.

Every SQL method that stores a reference to an object's sha256 (an artifact record, a
dataset version, a model file, a step output) calls :func:`add_objects` inside its own
transaction, so the reference and the permission to read the bytes commit together.
The server answers a download only when the project holds the object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.engine import Connection

from keel.store._sql._access_rows import project_objects as _objects
from keel.store._sql._database import dialect_insert

__all__ = ["add_objects", "is_sha256"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a sha256 hex digest (lowercase, 64 characters)."""
    return isinstance(value, str) and _SHA256.match(value) is not None


def add_objects(conn: Connection, project: str, shas: Iterable[str]) -> None:
    """Record, inside the caller's transaction, that ``project`` references these objects.

    Idempotent; values that are not sha256 digests are skipped (they name no object).
    """
    rows = [{"project": project, "sha256": s} for s in sorted(set(shas)) if is_sha256(s)]
    if rows:
        conn.execute(dialect_insert(conn, _objects).on_conflict_do_nothing(), rows)
