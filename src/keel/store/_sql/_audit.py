"""Governance on SQL: the hash-chained audit log and the role table, one per project.

Each project has its own chain: ``seq`` counts per project and ``audit_head`` holds one
row per project. Appends to one chain are serialised: on SQLite every write
transaction is ``BEGIN IMMEDIATE`` (one writer at a time); on PostgreSQL the append
locks the project's ``audit_head`` row (``SELECT ... FOR UPDATE``), so two transactions
never read the same head, while appends to different projects do not wait for each
other. Domain stores call :func:`lock_chain` first thing in a governed transaction and
:func:`append_event` before it commits, so a change and its event commit together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import InvalidArgumentError, NotFoundError
from keel.store._audit import (
    GENESIS_HASH,
    ROLES,
    AuditedObject,
    AuditEntry,
    AuditEvent,
    AuditHead,
    ChainCheck,
    ChainVerification,
    GovernanceStore,
    RoleGrant,
    canonical_json,
    event_hash,
)
from keel.store._sql._audit_rows import (
    audit_events as _events,
    audit_head as _head,
    roles as _roles,
)
from keel.store._sql._database import Database, dialect_insert

__all__ = ["SqlGovernanceStore", "append_event", "lock_chain"]

_MAX_ACTOR = 256

_HEAD_FOR_UPDATE = (
    sa.select(_head.c.seq, _head.c.hash)
    .where(_head.c.project == sa.bindparam("project"))
    .with_for_update()
)


def lock_chain(conn: Connection, project: str) -> tuple[int, str]:
    """Lock ``project``'s chain head for the rest of the transaction; returns ``(seq, hash)``.

    Call it first in a governed write transaction (before other writes), so that
    concurrent governed changes of one project queue here instead of deadlocking later.
    A project's head row is created by its first governed change.
    """
    row = conn.execute(_HEAD_FOR_UPDATE, {"project": project}).first()
    if row is None:
        # Two first appends at once: the second insert waits for the first (same key)
        # and then does nothing; both then lock the one row.
        conn.execute(
            dialect_insert(conn, _head).on_conflict_do_nothing(),
            {"project": project, "seq": 0, "hash": GENESIS_HASH},
        )
        row = conn.execute(_HEAD_FOR_UPDATE, {"project": project}).one()
    return int(row.seq), str(row.hash)


def _dump(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def append_event(conn: Connection, entry: AuditEntry, project: str) -> AuditEvent:
    """Append ``entry`` to ``project``'s chain inside the caller's transaction (locks its head)."""
    if not entry.actor or len(entry.actor) > _MAX_ACTOR:
        raise InvalidArgumentError(
            f"actor {entry.actor!r} is invalid: set KEEL_ACTOR to a user name of 1-{_MAX_ACTOR} "
            "characters"
        )
    seq, prev = lock_chain(conn, project)
    # Round-trip before/after through JSON so the hash covers exactly what is stored.
    before = None if entry.before is None else json.loads(canonical_json(entry.before))
    after = None if entry.after is None else json.loads(canonical_json(entry.after))
    draft = AuditEvent(
        seq=seq + 1,
        time=now_ms(),
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        before=before,
        after=after,
        reason=entry.reason,
        prev_hash=prev,
        hash="",
    )
    digest = event_hash(draft.content())
    conn.execute(
        _events.insert(),
        {
            "project": project,
            "seq": draft.seq,
            "time": draft.time,
            "actor": draft.actor,
            "action": draft.action,
            "object_type": draft.object_type,
            "object_id": draft.object_id,
            "before": _dump(before),
            "after": _dump(after),
            "reason": draft.reason,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    conn.execute(
        _head.update().where(_head.c.project == project).values(seq=draft.seq, hash=digest)
    )
    return AuditEvent(**{**draft.content(), "hash": digest})


def _escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=int(row.seq),
        time=int(row.time),
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=None if row.before is None else json.loads(row.before),
        after=None if row.after is None else json.loads(row.after),
        reason=row.reason,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlGovernanceStore(GovernanceStore):
    """:class:`GovernanceStore` over SQLAlchemy Core: the chain and roles of one project."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    def append(self, entry: AuditEntry) -> AuditEvent:
        with self._db.write() as conn:
            return append_event(conn, entry, self._project)

    def list_events(
        self,
        object_type: str | None = None,
        object_id: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        query = sa.select(_events).where(_events.c.project == self._project)
        if object_type:
            query = query.where(_events.c.object_type == object_type)
        if object_id:
            # The object and its parts: "iris" matches "iris/3" and "iris@champion".
            escaped = _escape_like(object_id)
            query = query.where(
                sa.or_(
                    _events.c.object_id == object_id,
                    _events.c.object_id.like(escaped + "/%", escape="\\"),
                    _events.c.object_id.like(escaped + "@%", escape="\\"),
                )
            )
        if actor:
            query = query.where(_events.c.actor == actor)
        if since is not None:
            query = query.where(_events.c.time >= since)
        query = query.order_by(_events.c.seq.desc()).limit(max(1, min(limit, 100_000)))
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [_event(r) for r in reversed(rows)]

    def read_events(self, after_seq: int = 0, limit: int = 2000) -> list[AuditEvent]:
        query = (
            sa.select(_events)
            .where(_events.c.project == self._project, _events.c.seq > after_seq)
            .order_by(_events.c.seq)
            .limit(max(1, min(limit, 100_000)))
        )
        with self._db.read() as conn:
            return [_event(r) for r in conn.execute(query)]

    def latest_event(
        self, object_type: str, object_id: str, action_prefix: str = ""
    ) -> AuditEvent | None:
        query = sa.select(_events).where(
            _events.c.project == self._project,
            _events.c.object_type == object_type,
            _events.c.object_id == object_id,
        )
        if action_prefix:
            query = query.where(
                _events.c.action.like(_escape_like(action_prefix) + "%", escape="\\")
            )
        with self._db.read() as conn:
            row = conn.execute(query.order_by(_events.c.seq.desc()).limit(1)).first()
        return None if row is None else _event(row)

    def _head(self, conn: Connection) -> AuditHead:
        row = conn.execute(sa.select(_head).where(_head.c.project == self._project)).first()
        # No row: the project has had no governed change yet (an empty chain).
        return AuditHead(0, GENESIS_HASH) if row is None else AuditHead(int(row.seq), str(row.hash))

    def head(self) -> AuditHead:
        with self._db.read() as conn:
            return self._head(conn)

    def _iter_rows(self, conn: Connection) -> Iterator[Any]:
        last = 0
        while True:
            rows = conn.execute(
                sa.select(_events)
                .where(_events.c.project == self._project, _events.c.seq > last)
                .order_by(_events.c.seq)
                .limit(2000)
            ).all()
            if not rows:
                return
            yield from rows
            last = int(rows[-1].seq)

    def verify(self) -> ChainVerification:
        with self._db.read() as conn:
            head = self._head(conn)
            check = ChainCheck()
            for row in self._iter_rows(conn):
                check.feed(_event(row))
            return check.result(head)

    def audited_state(self) -> list[AuditedObject]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_roles)
                .where(_roles.c.project == self._project)
                .order_by(_roles.c.user, _roles.c.role)
            ).all()
        return [
            AuditedObject("role", f"{r.user}:{r.role}", {"granted_by": r.granted_by}) for r in rows
        ]

    # -- roles ----------------------------------------------------------------------

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise InvalidArgumentError(
                f"role {role!r} does not exist; roles are: {', '.join(ROLES)}"
            )

    def grant_role(self, user: str, role: str, actor: str) -> RoleGrant:
        self._check_role(role)
        if not user or len(user) > _MAX_ACTOR:
            raise InvalidArgumentError(
                f"user name {user!r} is invalid: use 1-{_MAX_ACTOR} characters"
            )
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = conn.execute(
                sa.select(_roles).where(
                    _roles.c.project == self._project, _roles.c.user == user, _roles.c.role == role
                )
            ).first()
            if row is not None:
                return RoleGrant(row.user, row.role, row.granted_by, int(row.granted_at))
            grant = RoleGrant(user, role, actor, now_ms())
            conn.execute(
                _roles.insert(),
                {
                    "project": self._project,
                    "user": user,
                    "role": role,
                    "granted_by": actor,
                    "granted_at": grant.granted_at,
                },
            )
            append_event(
                conn,
                AuditEntry(
                    actor=actor,
                    action="role.grant",
                    object_type="role",
                    object_id=f"{user}:{role}",
                    before=None,
                    after={"user": user, "role": role},
                ),
                self._project,
            )
            return grant

    def revoke_role(self, user: str, role: str, actor: str) -> None:
        self._check_role(role)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            mine = _roles.c.project == self._project
            deleted = conn.execute(
                _roles.delete().where(mine, _roles.c.user == user, _roles.c.role == role)
            ).rowcount
            if not deleted:
                holders = [
                    r.user
                    for r in conn.execute(
                        sa.select(_roles.c.user)
                        .where(mine, _roles.c.role == role)
                        .order_by(_roles.c.user)
                    )
                ]
                raise NotFoundError(
                    f"user {user!r} does not hold role {role!r}; holders are: "
                    f"{', '.join(holders) or 'none'}"
                )
            append_event(
                conn,
                AuditEntry(
                    actor=actor,
                    action="role.revoke",
                    object_type="role",
                    object_id=f"{user}:{role}",
                    before={"user": user, "role": role},
                    after=None,
                ),
                self._project,
            )

    def list_roles(self, user: str | None = None) -> list[RoleGrant]:
        query = (
            sa.select(_roles)
            .where(_roles.c.project == self._project)
            .order_by(_roles.c.user, _roles.c.role)
        )
        if user is not None:
            query = query.where(_roles.c.user == user)
        with self._db.read() as conn:
            return [
                RoleGrant(r.user, r.role, r.granted_by, int(r.granted_at))
                for r in conn.execute(query)
            ]
