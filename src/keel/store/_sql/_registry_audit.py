"""Registry rows as entities, and in the terms of their audit events (``keel audit verify``).

Registration and gate events record a digest of the immutable row they create
(:meth:`ModelVersion.digest`, :meth:`GateResult.digest`); the same digest is recomputed
from the stored columns, so a later ``UPDATE`` of a version's metrics, files or
signature (or of a gate result's checks) is told apart from what was registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.store._audit import AuditedObject
from keel.store._registry import (
    CheckResult,
    GateResult,
    ModelFile,
    ModelVersion,
    ModelVersionStatus,
)
from keel.store._sql._registry_rows import (
    gate_results as _gates,
    model_alias_history as _history,
    model_aliases as _aliases,
    model_version_files as _files,
    model_versions as _versions,
    registered_models as _models,
)

__all__ = ["gate_from_row", "registry_audited_state", "version_from_row"]


def version_from_row(row: Mapping[Any, Any], files: Iterable[Mapping[Any, Any]]) -> ModelVersion:
    """A :class:`ModelVersion` from its stored columns (JSON as text) and file rows."""
    return ModelVersion(
        name=row["name"],
        version=int(row["version"]),
        run_id=row["run_id"],
        flavor=row["flavor"],
        format=row["format"],
        status=ModelVersionStatus(row["status"]),
        created_at=int(row["created_at"]),
        created_by=row["created_by"],
        files=tuple(
            sorted(
                (ModelFile(f["path"], f["sha256"], int(f["size"]), f["role"]) for f in files),
                key=lambda f: f.path,
            )
        ),
        signature=json.loads(row["signature"]),
        metrics=json.loads(row["metrics"]),
        datasets=tuple(json.loads(row["datasets"])),
        details=json.loads(row["details"]),
        description=row["description"],
    )


def gate_from_row(row: Mapping[Any, Any]) -> GateResult:
    """A :class:`GateResult` from its stored columns (checks and policy as JSON text)."""
    checks = tuple(
        CheckResult(c["check"], c["value"], c["bound"], bool(c["passed"]), c.get("detail", ""))
        for c in json.loads(row["checks"])
    )
    return GateResult(
        row["id"],
        row["name"],
        int(row["version"]),
        row["alias"],
        bool(row["passed"]),
        checks,
        json.loads(row["policy"]),
        int(row["created_at"]),
        row["actor"],
        bool(row["forced"]),
        row["reason"],
    )


def registry_audited_state(conn: Connection, project: str) -> list[AuditedObject]:
    """Every registry row of ``project`` an audit event explains, as :class:`AuditedObject` values."""
    out = [
        AuditedObject("registered_model", r.name, {"created_by": r.created_by})
        for r in conn.execute(
            sa.select(_models).where(_models.c.project == project).order_by(_models.c.name)
        )
    ]
    files: dict[tuple[str, int], list[Any]] = {}
    for f in conn.execute(sa.select(_files).where(_files.c.project == project)):
        files.setdefault((f.name, int(f.version)), []).append(f._mapping)
    for r in conn.execute(
        sa.select(_versions)
        .where(_versions.c.project == project)
        .order_by(_versions.c.name, _versions.c.version)
    ):
        v = version_from_row(r._mapping, files.get((r.name, int(r.version)), []))
        state: dict[str, Any] = {
            "status": v.status.value,
            "run_id": v.run_id,
            "flavor": v.flavor,
            "format": v.format,
            "files": {f.path: f.sha256 for f in v.files},
            "datasets": list(v.datasets),
            "digest": v.digest(),
        }
        out.append(AuditedObject("model_version", v.uri, state))
    out += [
        AuditedObject("alias", f"{r.name}@{r.alias}", {"version": int(r.version)})
        for r in conn.execute(
            sa.select(_aliases)
            .where(_aliases.c.project == project)
            .order_by(_aliases.c.name, _aliases.c.alias)
        )
    ]
    moves: dict[str, list[list[Any]]] = {}
    for h in conn.execute(
        sa.select(_history).where(_history.c.project == project).order_by(_history.c.id)
    ):
        moves.setdefault(f"{h.name}@{h.alias}", []).append(
            [h.action, h.from_version, h.to_version, h.actor, h.reason, h.gate_result_id]
        )
    out += [AuditedObject("alias_history", key, {"moves": m}) for key, m in sorted(moves.items())]
    for row in conn.execute(
        sa.select(_gates)
        .where(_gates.c.project == project)
        .order_by(_gates.c.created_at, _gates.c.id)
    ):
        g = gate_from_row(row._mapping)
        state = {
            "model": g.name,
            "version": g.version,
            "alias": g.alias,
            "passed": g.passed,
            "forced": g.forced,
            "failed": sorted({c.check for c in g.failed_checks}),
            "digest": g.digest(),
        }
        out.append(AuditedObject("gate_result", g.id, state))
    return out
