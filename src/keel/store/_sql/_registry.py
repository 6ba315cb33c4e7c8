"""The model registry on SQL: versions, files, aliases with optimistic concurrency, gate results.

Every governed change locks the audit chain head first (so governed transactions queue
in one place instead of deadlocking), makes the change, and appends its audit event
before committing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.store._audit import AuditedObject, AuditEntry
from keel.store._registry import (
    MAX_VERSION,
    Alias,
    AliasMove,
    GateResult,
    ModelStateError,
    ModelVersion,
    ModelVersionDraft,
    ModelVersionStatus,
    RegisteredModel,
    RegistryStore,
    check_alias_name,
    check_model_name,
)
from keel.store._sql._audit import append_event, lock_chain
from keel.store._sql._database import Database
from keel.store._sql._objects import add_objects
from keel.store._sql._registry_audit import gate_from_row, registry_audited_state, version_from_row
from keel.store._sql._registry_rows import (
    gate_results as _gates,
    model_alias_history as _history,
    model_aliases as _aliases,
    model_version_files as _files,
    model_versions as _versions,
    registered_models as _models,
)

__all__ = ["SqlRegistryStore"]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


def _listing(what: str, names: Sequence[str], wanted: str) -> str:
    if not names:
        return f"there are no {what} yet"
    near = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.5)
    text = f"{what} are: {', '.join(names[:30])}" + (" ..." if len(names) > 30 else "")
    return (f"did you mean {', '.join(near)}? " if near else "") + text


class SqlRegistryStore(RegistryStore):
    """:class:`RegistryStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    def _of(self, table: sa.Table, **equal: Any) -> sa.ColumnElement[bool]:
        """Rows of ``table`` in this store's project whose columns equal the given values."""
        return sa.and_(
            table.c.project == self._project, *(table.c[k] == v for k, v in equal.items())
        )

    # -- reading helpers -----------------------------------------------------------

    def _model_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(sa.select(_models).where(self._of(_models, name=name))).first()
        if row is None:
            names = [
                r.name
                for r in conn.execute(
                    sa.select(_models.c.name)
                    .where(_models.c.project == self._project)
                    .order_by(_models.c.name)
                )
            ]
            raise NotFoundError(f"model {name!r} does not exist; {_listing('models', names, name)}")
        return row

    def _version(self, conn: Connection, row: Any) -> ModelVersion:
        files = conn.execute(
            sa.select(_files).where(self._of(_files, name=row.name, version=row.version))
        )
        return version_from_row(row._mapping, (f._mapping for f in files))

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        self._model_row(conn, name)
        in_range = isinstance(version, int) and 1 <= version <= MAX_VERSION
        row = (
            conn.execute(
                sa.select(_versions).where(self._of(_versions, name=name, version=version))
            ).first()
            if in_range
            else None
        )
        if row is None:
            numbers = [
                str(r.version)
                for r in conn.execute(
                    sa.select(_versions.c.version)
                    .where(self._of(_versions, name=name))
                    .order_by(_versions.c.version)
                )
            ]
            shown = str(version) if len(str(version)) <= 20 else str(version)[:17] + "..."
            raise NotFoundError(
                f"model {name!r} has no version {shown}; versions are: "
                f"{', '.join(numbers) or 'none'}"
            )
        return row

    def _alias_names(self, conn: Connection, name: str) -> list[str]:
        return [
            r.alias
            for r in conn.execute(
                sa.select(_aliases.c.alias)
                .where(self._of(_aliases, name=name))
                .order_by(_aliases.c.alias)
            )
        ]

    # -- versions -------------------------------------------------------------------

    def create_version(self, draft: ModelVersionDraft, actor: str) -> ModelVersion:
        check_model_name(draft.name)
        if not draft.files:
            raise InvalidArgumentError(f"model version of {draft.name!r} has no files to register")
        now = now_ms()
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            exists = conn.execute(
                sa.select(_models.c.name).where(self._of(_models, name=draft.name))
            ).first()
            if exists is None:
                conn.execute(
                    _models.insert(),
                    {
                        "project": self._project,
                        "name": draft.name,
                        "created_at": now,
                        "created_by": actor,
                        "description": "",
                    },
                )
                append_event(
                    conn,
                    AuditEntry(
                        actor=actor,
                        action="registered_model.create",
                        object_type="registered_model",
                        object_id=draft.name,
                        before=None,
                        after={"name": draft.name},
                    ),
                    self._project,
                )
            latest = conn.execute(
                sa.select(sa.func.max(_versions.c.version)).where(
                    self._of(_versions, name=draft.name)
                )
            ).scalar()
            number = int(latest or 0) + 1
            version = ModelVersion(
                name=draft.name,
                version=number,
                run_id=draft.run_id,
                flavor=draft.flavor,
                format=draft.format,
                status=ModelVersionStatus.READY,
                created_at=now,
                created_by=actor,
                files=tuple(sorted(draft.files, key=lambda f: f.path)),
                signature=dict(draft.signature),
                metrics=dict(draft.metrics),
                datasets=tuple(draft.datasets),
                details=dict(draft.details),
                description=draft.description,
            )
            values = {
                "project": self._project,
                "name": version.name,
                "version": number,
                "run_id": version.run_id,
                "flavor": version.flavor,
                "format": version.format,
                "status": version.status.value,
                "created_at": now,
                "created_by": actor,
                "description": version.description,
                "signature": _dumps(version.signature),
                "metrics": _dumps(version.metrics),
                "datasets": _dumps(list(version.datasets)),
                "details": _dumps(version.details),
            }
            file_rows = [
                {
                    "project": self._project,
                    "name": version.name,
                    "version": number,
                    "path": f.path,
                    "sha256": f.sha256,
                    "size": f.size,
                    "role": f.role,
                }
                for f in version.files
            ]
            conn.execute(_versions.insert(), values)
            conn.execute(_files.insert(), file_rows)
            add_objects(conn, self._project, [f.sha256 for f in version.files])
            append_event(
                conn,
                AuditEntry(
                    actor=actor,
                    action="model_version.register",
                    object_type="model_version",
                    object_id=version.uri,
                    before=None,
                    after={
                        "run_id": version.run_id,
                        "flavor": version.flavor,
                        "format": version.format,
                        "files": {f.path: f.sha256 for f in version.files},
                        "datasets": list(version.datasets),
                        "digest": version_from_row(values, file_rows).digest(),
                    },
                ),
                self._project,
            )
            return version

    def get_model(self, name: str) -> RegisteredModel:
        with self._db.read() as conn:
            row = self._model_row(conn, name)
            latest = conn.execute(
                sa.select(sa.func.max(_versions.c.version)).where(self._of(_versions, name=name))
            ).scalar()
            aliases = {
                r.alias: int(r.version)
                for r in conn.execute(
                    sa.select(_aliases)
                    .where(self._of(_aliases, name=name))
                    .order_by(_aliases.c.alias)
                )
            }
        return RegisteredModel(
            row.name,
            int(row.created_at),
            row.created_by,
            row.description,
            int(latest or 0),
            aliases,
        )

    def list_models(self) -> list[RegisteredModel]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_models)
                .where(_models.c.project == self._project)
                .order_by(_models.c.name)
            ).all()
            latest = dict(
                conn.execute(
                    sa.select(_versions.c.name, sa.func.max(_versions.c.version))
                    .where(_versions.c.project == self._project)
                    .group_by(_versions.c.name)
                ).all()
            )
            aliases: dict[str, dict[str, int]] = {}
            for a in conn.execute(
                sa.select(_aliases)
                .where(_aliases.c.project == self._project)
                .order_by(_aliases.c.alias)
            ):
                aliases.setdefault(a.name, {})[a.alias] = int(a.version)
        return [
            RegisteredModel(
                r.name,
                int(r.created_at),
                r.created_by,
                r.description,
                int(latest.get(r.name) or 0),
                aliases.get(r.name, {}),
            )
            for r in rows
        ]

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self._db.read() as conn:
            return self._version(conn, self._version_row(conn, name, version))

    def list_versions(self, name: str) -> list[ModelVersion]:
        with self._db.read() as conn:
            self._model_row(conn, name)
            rows = conn.execute(
                sa.select(_versions)
                .where(self._of(_versions, name=name))
                .order_by(_versions.c.version)
            ).all()
            return [self._version(conn, r) for r in rows]

    def archive_version(
        self, name: str, version: int, actor: str, reason: str | None = None
    ) -> ModelVersion:
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._version_row(conn, name, version)
            if row.status == ModelVersionStatus.ARCHIVED.value:
                return self._version(conn, row)
            holders = [
                r.alias
                for r in conn.execute(
                    sa.select(_aliases.c.alias).where(
                        self._of(_aliases, name=name, version=version)
                    )
                )
            ]
            if holders:
                raise ModelStateError(
                    f"version {version} of {name!r} cannot be archived: it holds alias "
                    f"{', '.join(holders)}; promote another version to it (or roll it back) first"
                )
            conn.execute(
                _versions.update()
                .where(self._of(_versions, name=name, version=version))
                .values(status=ModelVersionStatus.ARCHIVED.value)
            )
            append_event(
                conn,
                AuditEntry(
                    actor=actor,
                    action="model_version.archive",
                    object_type="model_version",
                    object_id=f"{name}/{version}",
                    before={"status": row.status},
                    after={"status": ModelVersionStatus.ARCHIVED.value},
                    reason=reason,
                ),
                self._project,
            )
            row = self._version_row(conn, name, version)
            return self._version(conn, row)

    # -- aliases --------------------------------------------------------------------

    def get_alias(self, name: str, alias: str) -> Alias:
        with self._db.read() as conn:
            self._model_row(conn, name)
            row = conn.execute(
                sa.select(_aliases).where(self._of(_aliases, name=name, alias=alias))
            ).first()
            if row is None:
                names = self._alias_names(conn, name)
                raise NotFoundError(
                    f"model {name!r} has no alias {alias!r}; "
                    f"{_listing('its aliases', names, alias) if names else 'it has no aliases yet'}"
                    " (name@latest is the newest version)"
                )
            return self._alias(row)

    @staticmethod
    def _alias(row: Any) -> Alias:
        return Alias(
            row.name,
            row.alias,
            int(row.version),
            int(row.revision),
            int(row.updated_at),
            row.updated_by,
        )

    def list_aliases(self, name: str) -> list[Alias]:
        with self._db.read() as conn:
            self._model_row(conn, name)
            return [
                self._alias(r)
                for r in conn.execute(
                    sa.select(_aliases)
                    .where(self._of(_aliases, name=name))
                    .order_by(_aliases.c.alias)
                )
            ]

    def _check_revision(self, row: Any, name: str, alias: str, expected: int) -> int:
        current = 0 if row is None else int(row.revision)
        if current != expected:
            where = (
                "was deleted"
                if row is None
                else (f"now points to version {row.version} (moved by {row.updated_by})")
            )
            raise ConflictError(
                f"alias {name}@{alias} changed while this change was being prepared: it {where}; "
                "another promotion or rollback won. Re-run the command to check against the "
                "current holder"
            )
        return current

    def _insert_gate(self, conn: Connection, result: GateResult) -> str:
        """Insert a gate result; returns its digest (recorded by the audit event)."""
        values = {
            "project": self._project,
            "id": result.id,
            "name": result.name,
            "version": result.version,
            "alias": result.alias,
            "passed": result.passed,
            "forced": result.forced,
            "reason": result.reason,
            "actor": result.actor,
            "created_at": result.created_at,
            "checks": _dumps(
                [
                    {
                        "check": c.check,
                        "value": c.value,
                        "bound": c.bound,
                        "passed": c.passed,
                        "detail": c.detail,
                    }
                    for c in result.checks
                ]
            ),
            "policy": _dumps(dict(result.policy)),
        }
        conn.execute(_gates.insert(), values)
        return gate_from_row(values).digest()

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        expected_revision: int,
        action: str,
        actor: str,
        reason: str | None = None,
        gate_result: GateResult | None = None,
    ) -> Alias:
        check_alias_name(alias)
        now = now_ms()
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            vrow = self._version_row(conn, name, version)
            if vrow.status != ModelVersionStatus.READY.value:
                raise ModelStateError(
                    f"version {version} of {name!r} is archived; archived versions cannot be "
                    "promoted or served. Register the model again to use it"
                )
            row = conn.execute(
                sa.select(_aliases).where(self._of(_aliases, name=name, alias=alias))
            ).first()
            current = self._check_revision(row, name, alias, expected_revision)
            before = None if row is None else {"version": int(row.version)}
            values = {
                "version": version,
                "revision": current + 1,
                "updated_at": now,
                "updated_by": actor,
            }
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            _aliases.insert(),
                            {"project": self._project, "name": name, "alias": alias, **values},
                        )
                except sa.exc.IntegrityError:
                    raise ConflictError(
                        f"alias {name}@{alias} was created by another promotion at the same "
                        "time; re-run the command to check against it"
                    ) from None
            else:
                moved = conn.execute(
                    _aliases.update()
                    .where(self._of(_aliases, name=name, alias=alias, revision=current))
                    .values(**values)
                ).rowcount
                if moved != 1:  # pragma: no cover - the chain lock makes this unreachable
                    raise ConflictError(f"alias {name}@{alias} moved concurrently; re-run")
            digest = None if gate_result is None else self._insert_gate(conn, gate_result)
            conn.execute(
                _history.insert(),
                {
                    "project": self._project,
                    "name": name,
                    "alias": alias,
                    "from_version": None if row is None else row.version,
                    "to_version": version,
                    "action": action,
                    "actor": actor,
                    "time": now,
                    "reason": reason,
                    "gate_result_id": gate_result.id if gate_result else None,
                },
            )
            after: dict[str, Any] = {"version": version}
            if gate_result is not None:
                after["gate_result"] = gate_result.id
                after["checks"] = {c.check: c.verdict for c in gate_result.checks}
                after["gate_digest"] = digest
            append_event(
                conn,
                AuditEntry(
                    actor=actor,
                    action=f"alias.{action}",
                    object_type="alias",
                    object_id=f"{name}@{alias}",
                    before=before,
                    after=after,
                    reason=reason,
                ),
                self._project,
            )
            return Alias(name, alias, version, current + 1, now, actor)

    def delete_alias(
        self, name: str, alias: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            self._model_row(conn, name)
            row = conn.execute(
                sa.select(_aliases).where(self._of(_aliases, name=name, alias=alias))
            ).first()
            if row is None:
                names = self._alias_names(conn, name)
                raise NotFoundError(
                    f"model {name!r} has no alias {alias!r}; "
                    f"{_listing('its aliases', names, alias)}"
                )
            self._check_revision(row, name, alias, expected_revision)
            conn.execute(_aliases.delete().where(self._of(_aliases, name=name, alias=alias)))
            conn.execute(
                _history.insert(),
                {
                    "project": self._project,
                    "name": name,
                    "alias": alias,
                    "from_version": row.version,
                    "to_version": None,
                    "action": "delete",
                    "actor": actor,
                    "time": now_ms(),
                    "reason": reason,
                    "gate_result_id": None,
                },
            )
            append_event(
                conn,
                AuditEntry(
                    actor=actor,
                    action="alias.delete",
                    object_type="alias",
                    object_id=f"{name}@{alias}",
                    before={"version": int(row.version)},
                    after=None,
                    reason=reason,
                ),
                self._project,
            )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        query = sa.select(_history).where(self._of(_history, name=name)).order_by(_history.c.id)
        if alias is not None:
            query = query.where(_history.c.alias == alias)
        with self._db.read() as conn:
            self._model_row(conn, name)
            return [
                AliasMove(
                    int(r.id),
                    r.name,
                    r.alias,
                    r.from_version,
                    r.to_version,
                    r.action,
                    r.actor,
                    int(r.time),
                    r.reason,
                    r.gate_result_id,
                )
                for r in conn.execute(query)
            ]

    # -- gate results ---------------------------------------------------------------

    def record_gate_result(self, result: GateResult) -> GateResult:
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            self._version_row(conn, result.name, result.version)
            digest = self._insert_gate(conn, result)
            append_event(
                conn,
                AuditEntry(
                    actor=result.actor,
                    action="promotion.reject",
                    object_type="alias",
                    object_id=f"{result.name}@{result.alias}",
                    before=None,
                    after={
                        "version": result.version,
                        "gate_result": result.id,
                        "failed": [c.check for c in result.failed_checks],
                        "gate_digest": digest,
                    },
                    reason=result.reason,
                ),
                self._project,
            )
        return result

    def audited_state(self) -> list[AuditedObject]:
        with self._db.read() as conn:
            return registry_audited_state(conn, self._project)

    def get_gate_result(self, result_id: str) -> GateResult:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_gates).where(self._of(_gates, id=result_id))).first()
        if row is None:
            raise NotFoundError(f"gate result {result_id!r} does not exist")
        return gate_from_row(row._mapping)

    def list_gate_results(self, name: str, version: int | None = None) -> list[GateResult]:
        query = sa.select(_gates).where(self._of(_gates, name=name)).order_by(_gates.c.created_at)
        if version is not None:
            query = query.where(_gates.c.version == version)
        with self._db.read() as conn:
            return [gate_from_row(r._mapping) for r in conn.execute(query)]
