"""Endpoints on SQL: the current revision, every revision, audited and with lineage.

Like the registry's aliases, every change locks the project's audit chain head first
(governed transactions queue in one place instead of deadlocking), checks the
revision, writes the endpoint row and its revision row, appends the audit event and
records the lineage edges, and commits once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import ConflictError, NotFoundError
from keel.store._audit import AuditedObject, AuditEntry
from keel.store._endpoints import (
    Endpoint,
    EndpointRevision,
    EndpointStore,
    check_endpoint_name,
    check_endpoint_spec,
    spec_digest,
)
from keel.store._lineage import LineageEdge, LineageNode
from keel.store._sql._audit import append_event, lock_chain
from keel.store._sql._database import Database
from keel.store._sql._endpoints_rows import (
    endpoint_revisions as _revisions,
    endpoints as _endpoints,
)
from keel.store._sql._lineage import write_edges

__all__ = ["SqlEndpointStore"]

#: the relation of the lineage edge model version -> endpoint
SERVED_BY = "served_by"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        name=row.name,
        revision=int(row.revision),
        spec=json.loads(row.spec),
        model_versions=tuple(json.loads(row.model_versions)),
        created_at=int(row.created_at),
        created_by=row.created_by,
        updated_at=int(row.updated_at),
        updated_by=row.updated_by,
        reason=row.reason,
    )


def _revision(row: Any) -> EndpointRevision:
    return EndpointRevision(
        name=row.name,
        revision=int(row.revision),
        action=row.action,
        spec=None if row.spec is None else json.loads(row.spec),
        model_versions=tuple(json.loads(row.model_versions)),
        actor=row.actor,
        time=int(row.time),
        reason=row.reason,
    )


class SqlEndpointStore(EndpointStore):
    """:class:`EndpointStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    def _of(self, table: sa.Table, **equal: Any) -> sa.ColumnElement[bool]:
        """Rows of ``table`` in this store's project whose columns equal the given values."""
        return sa.and_(
            table.c.project == self._project, *(table.c[k] == v for k, v in equal.items())
        )

    # -- reading helpers -----------------------------------------------------------

    def _row(self, conn: Connection, name: str) -> Any:
        return conn.execute(sa.select(_endpoints).where(self._of(_endpoints, name=name))).first()

    def _last_revision(self, conn: Connection, name: str) -> Any:
        return conn.execute(
            sa.select(_revisions)
            .where(self._of(_revisions, name=name))
            .order_by(_revisions.c.revision.desc())
            .limit(1)
        ).first()

    def _missing(self, conn: Connection, name: str) -> NotFoundError:
        last = self._last_revision(conn, name)
        if last is not None and last.action == "delete":
            return NotFoundError(
                f"endpoint {name!r} was deleted (revision {last.revision}, by {last.actor}); "
                f"its history: keel endpoints show {name} --history"
            )
        names = [
            r.name
            for r in conn.execute(
                sa.select(_endpoints.c.name)
                .where(_endpoints.c.project == self._project)
                .order_by(_endpoints.c.name)
            )
        ]
        if not names:
            return NotFoundError(
                f"endpoint {name!r} does not exist; project {self._project!r} has no endpoints "
                "(keel endpoints create makes one)"
            )
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
        hint = f"did you mean {', '.join(near)}? " if near else ""
        return NotFoundError(f"endpoint {name!r} does not exist; {hint}endpoints are: {listed}")

    @staticmethod
    def _is_retry(last: Any, action: str, actor: str, spec: str | None, versions: str) -> bool:
        """Whether ``last`` (a revision row) is this very change, already committed."""
        return (
            last is not None
            and last.action == action
            and last.actor == actor
            and last.spec == spec
            and last.model_versions == versions
        )

    # -- changes --------------------------------------------------------------------

    def _write(
        self,
        conn: Connection,
        action: str,
        name: str,
        revision: int,
        spec: dict[str, Any] | None,
        versions: tuple[str, ...],
        actor: str,
        reason: str | None,
        before: Any,
    ) -> int:
        """The revision row, the audit event and the lineage edges of one change."""
        now = now_ms()
        conn.execute(
            _revisions.insert(),
            {
                "project": self._project,
                "name": name,
                "revision": revision,
                "action": action,
                "spec": None if spec is None else _dumps(spec),
                "model_versions": _dumps(list(versions)),
                "actor": actor,
                "time": now,
                "reason": reason,
            },
        )
        after = None
        if spec is not None:
            after = {
                "revision": revision,
                "spec": spec,
                "model_versions": list(versions),
                "digest": spec_digest(spec, versions),
            }
        append_event(
            conn,
            AuditEntry(
                actor=actor,
                action=f"endpoint.{action}",
                object_type="endpoint",
                object_id=name,
                before=None
                if before is None
                else {"revision": int(before.revision), "digest": _endpoint(before).digest()},
                after=after,
                reason=reason,
            ),
            self._project,
        )
        node = LineageNode("endpoint", name, name)
        write_edges(
            self._db,
            conn,
            [
                LineageEdge(
                    LineageNode("model_version", v, "{} v{}".format(*v.rsplit("/", 1))),
                    node,
                    SERVED_BY,
                    now,
                )
                for v in versions
            ],
            self._project,
        )
        return now

    def create_endpoint(
        self,
        name: str,
        spec: Mapping[str, Any],
        model_versions: Sequence[str],
        actor: str,
        reason: str | None = None,
    ) -> Endpoint:
        check_endpoint_name(name)
        data, versions = check_endpoint_spec(name, spec, model_versions)
        spec_text, versions_text = _dumps(data), _dumps(list(versions))
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._row(conn, name)
            last = self._last_revision(conn, name)
            if row is not None:
                if int(row.revision) == int(last.revision) and self._is_retry(
                    last, "create", actor, spec_text, versions_text
                ):
                    return _endpoint(row)
                raise ConflictError(
                    f"endpoint {name!r} exists (revision {row.revision}, written by "
                    f"{row.updated_by}); change it with keel endpoints update {name}, or delete "
                    "it first"
                )
            revision = 1 if last is None else int(last.revision) + 1
            now = self._write(conn, "create", name, revision, data, versions, actor, reason, None)
            conn.execute(
                _endpoints.insert(),
                {
                    "project": self._project,
                    "name": name,
                    "revision": revision,
                    "spec": spec_text,
                    "model_versions": versions_text,
                    "created_at": now,
                    "created_by": actor,
                    "updated_at": now,
                    "updated_by": actor,
                    "reason": reason,
                },
            )
            return _endpoint(self._row(conn, name))

    def _check_revision(self, row: Any, name: str, expected: int) -> None:
        if int(row.revision) != expected:
            raise ConflictError(
                f"endpoint {name!r} changed while this change was being prepared: it is at "
                f"revision {row.revision} (written by {row.updated_by}), not {expected}. Read "
                f"it again (keel endpoints show {name}) and repeat the change"
            )

    def update_endpoint(
        self,
        name: str,
        spec: Mapping[str, Any],
        model_versions: Sequence[str],
        expected_revision: int,
        actor: str,
        reason: str | None = None,
    ) -> Endpoint:
        check_endpoint_name(name)
        data, versions = check_endpoint_spec(name, spec, model_versions)
        spec_text, versions_text = _dumps(data), _dumps(list(versions))
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._row(conn, name)
            if row is None:
                raise self._missing(conn, name)
            if int(row.revision) == expected_revision + 1 and self._is_retry(
                self._last_revision(conn, name), "update", actor, spec_text, versions_text
            ):
                return _endpoint(row)
            self._check_revision(row, name, expected_revision)
            revision = int(row.revision) + 1
            now = self._write(conn, "update", name, revision, data, versions, actor, reason, row)
            conn.execute(
                _endpoints.update()
                .where(self._of(_endpoints, name=name))
                .values(
                    revision=revision,
                    spec=spec_text,
                    model_versions=versions_text,
                    updated_at=now,
                    updated_by=actor,
                    reason=reason,
                )
            )
            return _endpoint(self._row(conn, name))

    def delete_endpoint(
        self, name: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        check_endpoint_name(name)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._row(conn, name)
            if row is None:
                last = self._last_revision(conn, name)
                if (
                    last is not None
                    and int(last.revision) == expected_revision + 1
                    and self._is_retry(last, "delete", actor, None, "[]")
                ):
                    return
                raise self._missing(conn, name)
            self._check_revision(row, name, expected_revision)
            revision = int(row.revision) + 1
            self._write(conn, "delete", name, revision, None, (), actor, reason, row)
            conn.execute(_endpoints.delete().where(self._of(_endpoints, name=name)))

    # -- reading --------------------------------------------------------------------

    def get_endpoint(self, name: str) -> Endpoint:
        check_endpoint_name(name)
        with self._db.read() as conn:
            row = self._row(conn, name)
            if row is None:
                raise self._missing(conn, name)
            return _endpoint(row)

    def list_endpoints(self) -> list[Endpoint]:
        with self._db.read() as conn:
            return [
                _endpoint(r)
                for r in conn.execute(
                    sa.select(_endpoints)
                    .where(_endpoints.c.project == self._project)
                    .order_by(_endpoints.c.name)
                )
            ]

    def list_revisions(self, name: str) -> list[EndpointRevision]:
        check_endpoint_name(name)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_revisions)
                .where(self._of(_revisions, name=name))
                .order_by(_revisions.c.revision)
            ).all()
            if not rows:
                raise self._missing(conn, name)
            return [_revision(r) for r in rows]

    def audited_state(self) -> list[AuditedObject]:
        with self._db.read() as conn:
            current = [
                _endpoint(r)
                for r in conn.execute(
                    sa.select(_endpoints)
                    .where(_endpoints.c.project == self._project)
                    .order_by(_endpoints.c.name)
                )
            ]
            revisions = [
                _revision(r)
                for r in conn.execute(
                    sa.select(_revisions)
                    .where(_revisions.c.project == self._project)
                    .order_by(_revisions.c.name, _revisions.c.revision)
                )
            ]
        out = [
            AuditedObject("endpoint", e.name, {"revision": e.revision, "digest": e.digest()})
            for e in current
        ]
        out += [
            AuditedObject(
                "endpoint_revision",
                f"{r.name}#{r.revision}",
                {"action": r.action, "actor": r.actor, "digest": r.digest()},
            )
            for r in revisions
        ]
        return out
