"""Datasets on SQL: names, numbered immutable versions, and their lineage edges."""

from __future__ import annotations

import difflib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError, show_input
from keel.store._datasets import (
    DatasetStore,
    DatasetSummary,
    DatasetVersionRecord,
    NewDatasetVersion,
)
from keel.store._lineage import LineageEdge, LineageNode
from keel.store._sql._database import Database
from keel.store._sql._datasets_rows import dataset_versions as _versions, datasets as _datasets
from keel.store._sql._lineage import write_edges
from keel.store._sql._objects import add_objects

__all__ = ["SqlDatasetStore"]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _record(row: Any) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        id=row.id,
        name=row.name,
        version=int(row.version),
        content_hash=row.content_hash,
        size_bytes=int(row.size_bytes),
        num_rows=int(row.num_rows),
        schema=json.loads(row.schema_json),
        profile=json.loads(row.profile_json),
        source_uri=row.source_uri,
        created_by=row.created_by,
        created_at=int(row.created_at),
        valid=bool(row.valid),
        validation=json.loads(row.validation_json) if row.validation_json else None,
        description=row.description,
        tags=json.loads(row.tags_json),
        parent_ids=tuple(json.loads(row.parent_ids_json)),
        derivation=json.loads(row.derivation_json) if row.derivation_json else None,
    )


class SqlDatasetStore(DatasetStore):
    """:class:`DatasetStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    # -- writing ----------------------------------------------------------------------

    def create_version(
        self,
        new: NewDatasetVersion,
        upstream: Sequence[tuple[LineageNode, str]] = (),
    ) -> tuple[DatasetVersionRecord, bool]:
        if len(new.content_hash) != 64:
            raise InvalidArgumentError(
                f"content hash {show_input(new.content_hash)} of dataset {show_input(new.name)} is not a sha256 "
                "hex digest (64 characters)"
            )
        now = now_ms()
        with self._db.write() as conn:
            # One row per name, locked for the rest of the transaction: concurrent
            # registrations of the same name queue here (SQLite's BEGIN IMMEDIATE
            # already serialises writers; PostgreSQL needs the row lock).
            conn.execute(
                self._db.insert(_datasets).on_conflict_do_nothing(),
                {"project": self._project, "name": new.name, "created_at": new.created_at or now},
            )
            if not self._db.is_sqlite:
                conn.execute(
                    sa.select(_datasets.c.name)
                    .where(_datasets.c.project == self._project, _datasets.c.name == new.name)
                    .with_for_update()
                )
            existing = conn.execute(
                sa.select(_versions).where(
                    _versions.c.project == self._project,
                    _versions.c.name == new.name,
                    _versions.c.content_hash == new.content_hash,
                )
            ).first()
            if existing is not None:
                record = _record(existing)
                self._write_edges(conn, record, upstream, now)
                add_objects(conn, self._project, [record.content_hash])
                return record, False
            last = conn.execute(
                sa.select(sa.func.max(_versions.c.version)).where(
                    _versions.c.project == self._project, _versions.c.name == new.name
                )
            ).scalar()
            values = {
                "id": uuid.uuid4().hex,
                "project": self._project,
                "name": new.name,
                "version": int(last or 0) + 1,
                "content_hash": new.content_hash,
                "size_bytes": new.size_bytes,
                "num_rows": new.num_rows,
                "schema_json": _dumps(new.schema),
                "profile_json": _dumps(new.profile),
                "validation_json": _dumps(new.validation) if new.validation is not None else None,
                "valid": new.valid,
                "source_uri": new.source_uri,
                "description": new.description,
                "tags_json": _dumps(dict(new.tags)),
                "parent_ids_json": _dumps(list(new.parent_ids)),
                "derivation_json": _dumps(new.derivation) if new.derivation is not None else None,
                "created_by": new.created_by,
                "created_at": new.created_at or now,
            }
            conn.execute(sa.insert(_versions), values)
            record = _record(_Values(values))
            self._write_edges(conn, record, upstream, now)
            add_objects(conn, self._project, [record.content_hash])
            return record, True

    def record_validation(
        self, version_id: str, validation: Mapping[str, Any], valid: bool
    ) -> DatasetVersionRecord:
        with self._db.write() as conn:
            changed = conn.execute(
                sa.update(_versions)
                .where(
                    _versions.c.id == version_id,
                    _versions.c.project == self._project,
                    _versions.c.validation_json.is_(None),
                )
                .values(validation_json=_dumps(validation), valid=valid)
            ).rowcount
            row = conn.execute(
                sa.select(_versions).where(
                    _versions.c.id == version_id, _versions.c.project == self._project
                )
            ).first()
        if row is None:
            raise NotFoundError(f"dataset version id {show_input(version_id)} does not exist")
        record = _record(row)
        if not changed:
            raise ConflictError(
                f"dataset {record.name}/{record.version} already has a validation report; "
                "a version's validation is recorded once"
            )
        return record

    def _write_edges(
        self,
        conn: Connection,
        record: DatasetVersionRecord,
        upstream: Sequence[tuple[LineageNode, str]],
        now: int,
    ) -> None:
        if not upstream:
            return
        target = record.lineage_node()
        write_edges(
            self._db,
            conn,
            [LineageEdge(node, target, relation, now) for node, relation in upstream],
            self._project,
        )

    # -- reading ----------------------------------------------------------------------

    def _names(self, conn: Connection) -> list[str]:
        return [
            r[0]
            for r in conn.execute(
                sa.select(_datasets.c.name)
                .where(_datasets.c.project == self._project)
                .order_by(_datasets.c.name)
            )
        ]

    def _unknown_name(self, conn: Connection, name: str) -> NotFoundError:
        names = self._names(conn)
        near = difflib.get_close_matches(name, names, n=3)
        hint = (
            f"; did you mean {', '.join(repr(n) for n in near)}?"
            if near
            else "; `keel datasets list` shows the datasets"
            if names
            else "; no dataset is registered yet (keel.datasets.register)"
        )
        return NotFoundError(f"dataset {show_input(name)} does not exist{hint}")

    def get_version(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        with self._db.read() as conn:
            query = sa.select(_versions).where(
                _versions.c.project == self._project, _versions.c.name == name
            )
            if version is None:
                row = conn.execute(query.order_by(_versions.c.version.desc()).limit(1)).first()
            else:
                row = conn.execute(query.where(_versions.c.version == version)).first()
            if row is not None:
                return _record(row)
            numbers = [
                r[0]
                for r in conn.execute(
                    sa.select(_versions.c.version)
                    .where(_versions.c.project == self._project, _versions.c.name == name)
                    .order_by(_versions.c.version)
                )
            ]
            if not numbers:
                raise self._unknown_name(conn, name)
            span = f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
            raise NotFoundError(f"dataset {name!r} has no version {version}; versions are {span}")

    def get_version_by_id(self, version_id: str) -> DatasetVersionRecord:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_versions).where(
                    _versions.c.id == version_id, _versions.c.project == self._project
                )
            ).first()
        if row is None:
            raise NotFoundError(f"dataset version id {show_input(version_id)} does not exist")
        return _record(row)

    def find_version_by_hash(self, name: str, hash_prefix: str) -> DatasetVersionRecord:
        prefix = hash_prefix.lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix) or len(prefix) > 64:
            raise InvalidArgumentError(
                f"content hash {show_input(hash_prefix)} is not a sha256 hex digest or a prefix of one; "
                "use e.g. 'name/sha256:3fa9c1'"
            )
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_versions)
                .where(
                    _versions.c.project == self._project,
                    _versions.c.name == name,
                    _versions.c.content_hash.like(f"{prefix}%"),
                )
                .order_by(_versions.c.version)
                .limit(5)
            ).all()
            if not rows:
                exists = conn.execute(
                    sa.select(_datasets.c.name).where(
                        _datasets.c.project == self._project, _datasets.c.name == name
                    )
                ).first()
                if exists is None:
                    raise self._unknown_name(conn, name)
                raise NotFoundError(
                    f"dataset {name!r} has no version whose content hash starts with {prefix!r}; "
                    f"`keel datasets list {name}` lists the hashes"
                )
        if len(rows) > 1:
            found = ", ".join(f"{name}/{r.version} ({r.content_hash[:12]})" for r in rows)
            raise NotFoundError(
                f"content hash prefix {prefix!r} of dataset {name!r} is ambiguous: {found}; "
                "give more characters"
            )
        return _record(rows[0])

    def list_datasets(self) -> list[DatasetSummary]:
        v = _versions
        stats = (
            sa.select(
                v.c.name,
                sa.func.count().label("n"),
                sa.func.max(v.c.version).label("latest"),
                sa.func.min(v.c.created_at).label("first"),
                sa.func.max(v.c.created_at).label("last"),
            )
            .where(v.c.project == self._project)
            .group_by(v.c.name)
            .subquery()
        )
        query = (
            sa.select(stats, v.c.id, v.c.num_rows)
            .join(
                v,
                sa.and_(
                    v.c.project == self._project,
                    v.c.name == stats.c.name,
                    v.c.version == stats.c.latest,
                ),
            )
            .order_by(stats.c.name)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [
            DatasetSummary(
                name=r.name,
                num_versions=int(r.n),
                latest_version=int(r.latest),
                latest_id=r.id,
                num_rows=int(r.num_rows),
                created_at=int(r.first),
                updated_at=int(r.last),
            )
            for r in rows
        ]

    def list_versions(self, name: str) -> list[DatasetVersionRecord]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_versions)
                .where(_versions.c.project == self._project, _versions.c.name == name)
                .order_by(_versions.c.version)
            ).all()
            if not rows:
                raise self._unknown_name(conn, name)
        return [_record(r) for r in rows]


class _Values:
    """Attribute access over the values just inserted (to build the record without a re-read)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
