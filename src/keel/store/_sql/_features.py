"""Feature definitions on SQL: immutable versions, audited, written all or none.

A call locks the project's audit chain head first (governed transactions queue in one
place), checks every change against the latest versions, inserts the new version rows
with one audit event each, and commits once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import ConflictError, NotFoundError
from keel.store._audit import AuditedObject, AuditEntry
from keel.store._features import (
    FeatureChange,
    FeatureDefinition,
    FeatureStore,
    check_feature_changes,
    check_feature_kind,
    check_feature_name,
    feature_spec_digest,
)
from keel.store._sql._audit import append_event, lock_chain
from keel.store._sql._database import Database
from keel.store._sql._features_rows import feature_definitions as _defs

__all__ = ["SqlFeatureStore"]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _definition(row: Any) -> FeatureDefinition:
    return FeatureDefinition(
        kind=row.kind,
        name=row.name,
        version=int(row.version),
        spec=None if row.spec is None else json.loads(row.spec),
        created_at=int(row.created_at),
        created_by=row.created_by,
        reason=row.reason,
    )


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _plural(kind: str) -> str:
    return "entities" if kind == "entity" else f"{_label(kind)}s"


class SqlFeatureStore(FeatureStore):
    """:class:`FeatureStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    def _of(self, **equal: Any) -> sa.ColumnElement[bool]:
        return sa.and_(
            _defs.c.project == self._project, *(_defs.c[k] == v for k, v in equal.items())
        )

    def _latest(self, conn: Connection, kind: str, name: str) -> Any:
        return conn.execute(
            sa.select(_defs)
            .where(self._of(kind=kind, name=name))
            .order_by(_defs.c.version.desc())
            .limit(1)
        ).first()

    def _latest_rows(self, conn: Connection, kind: str | None) -> list[Any]:
        where = [_defs.c.project == self._project]
        if kind is not None:
            where.append(_defs.c.kind == kind)
        newest = (
            sa.select(_defs.c.kind, _defs.c.name, sa.func.max(_defs.c.version).label("version"))
            .where(*where)
            .group_by(_defs.c.kind, _defs.c.name)
            .subquery()
        )
        query = (
            sa.select(_defs)
            .join(
                newest,
                sa.and_(
                    _defs.c.kind == newest.c.kind,
                    _defs.c.name == newest.c.name,
                    _defs.c.version == newest.c.version,
                ),
            )
            .where(_defs.c.project == self._project)
            .order_by(_defs.c.kind, _defs.c.name)
        )
        rows = list(conn.execute(query))
        order = {k: i for i, k in enumerate(("entity", "feature_view", "feature_service"))}
        rows.sort(key=lambda r: (order.get(r.kind, 9), r.name))
        return rows

    def _missing(self, conn: Connection, kind: str, name: str) -> NotFoundError:
        names = [r.name for r in self._latest_rows(conn, kind) if r.spec is not None]
        if not names:
            return NotFoundError(
                f"{_label(kind)} {name!r} is not registered; project {self._project!r} has no "
                f"{_plural(kind)} (keel features apply PATH registers them)"
            )
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
        return NotFoundError(
            f"{_label(kind)} {name!r} is not registered; {hint}{_plural(kind)} are: {listed}"
        )

    # -- changes --------------------------------------------------------------------

    def apply_changes(
        self, changes: Sequence[FeatureChange], actor: str, reason: str | None = None
    ) -> list[FeatureDefinition]:
        checked = check_feature_changes(changes)
        if not checked:
            return []
        out: list[FeatureDefinition] = []
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            for change in checked:
                out.append(self._apply_one(conn, change, actor, reason))
        return out

    def _apply_one(
        self, conn: Connection, change: FeatureChange, actor: str, reason: str | None
    ) -> FeatureDefinition:
        kind, name, expected = change.kind, change.name, change.expected_version
        spec_text = None if change.spec is None else _dumps(change.spec)
        last = self._latest(conn, kind, name)
        latest = 0 if last is None else int(last.version)
        if (
            last is not None
            and last.spec == spec_text
            and (latest == expected or (latest == expected + 1 and last.created_by == actor))
        ):
            return _definition(last)  # nothing to change, or this very change retried
        if latest != expected:
            who = "" if last is None else f" (registered by {last.created_by})"
            raise ConflictError(
                f"{_label(kind)} {name!r} is at version {latest}{who}, not {expected}: it "
                "changed since it was read. Nothing was registered; compute the changes again "
                "(keel features diff PATH) and apply them"
            )
        if spec_text is None and (last is None or last.spec is None):
            state = "is not registered" if last is None else f"was retired (version {latest})"
            raise ConflictError(f"{_label(kind)} {name!r} {state}; there is nothing to retire")
        version = latest + 1
        now = now_ms()
        digest = feature_spec_digest(change.spec)
        conn.execute(
            _defs.insert(),
            {
                "project": self._project,
                "kind": kind,
                "name": name,
                "version": version,
                "spec": spec_text,
                "digest": digest,
                "created_at": now,
                "created_by": actor,
                "reason": reason,
            },
        )
        append_event(
            conn,
            AuditEntry(
                actor=actor,
                action=f"{kind}.{'retire' if change.spec is None else 'register'}",
                object_type=kind,
                object_id=f"{name}/{version}",
                before=None if last is None else {"version": latest, "digest": last.digest},
                after={"version": version, "digest": digest, "spec": change.spec},
                reason=reason,
            ),
            self._project,
        )
        return FeatureDefinition(kind, name, version, change.spec, now, actor, reason)

    # -- reading --------------------------------------------------------------------

    def get_definition(self, kind: str, name: str, version: int | None = None) -> FeatureDefinition:
        check_feature_kind(kind)
        check_feature_name(kind, name)
        with self._db.read() as conn:
            if version is None:
                row = self._latest(conn, kind, name)
                if row is None:
                    raise self._missing(conn, kind, name)
                return _definition(row)
            row = conn.execute(
                sa.select(_defs).where(self._of(kind=kind, name=name, version=int(version)))
            ).first()
            if row is not None:
                return _definition(row)
            last = self._latest(conn, kind, name)
            if last is None:
                raise self._missing(conn, kind, name)
            raise NotFoundError(
                f"{_label(kind)} {name!r} has no version {version}; versions are 1-{last.version}"
            )

    def list_definitions(self, kind: str | None = None) -> list[FeatureDefinition]:
        if kind is not None:
            check_feature_kind(kind)
        with self._db.read() as conn:
            return [_definition(r) for r in self._latest_rows(conn, kind) if r.spec is not None]

    def list_definition_versions(self, kind: str, name: str) -> list[FeatureDefinition]:
        check_feature_kind(kind)
        check_feature_name(kind, name)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_defs).where(self._of(kind=kind, name=name)).order_by(_defs.c.version)
            ).all()
            if not rows:
                raise self._missing(conn, kind, name)
            return [_definition(r) for r in rows]

    def audited_state(self) -> list[AuditedObject]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_defs)
                .where(_defs.c.project == self._project)
                .order_by(_defs.c.kind, _defs.c.name, _defs.c.version)
            ).all()
        out = []
        for r in rows:
            d = _definition(r)
            out.append(
                AuditedObject(
                    "feature_definition",
                    f"{d.kind}:{d.ref}",
                    {"created_by": d.created_by, "retired": d.retired, "digest": d.digest()},
                )
            )
        return out
