"""Tables of governance: the audit chains, their heads and user roles.

Migrations ``audit_0001`` and ``audit_0002_projects``: each project has its own chain
(``seq`` counts per project) and its own head row.
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import PROJECT, metadata, project_column

__all__ = ["audit_events", "audit_head", "roles"]

audit_events = sa.Table(
    "audit_events",
    metadata,
    project_column(primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(64), nullable=False),
    sa.Column("object_id", sa.String(512), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_events_project_object", "project", "object_type", "object_id"),
    sa.Index("ix_audit_events_project_actor", "project", "actor"),
    sa.Index("ix_audit_events_project_time", "project", "time"),
)

# One row per project: its last event's seq and hash. Appends lock it; verify compares
# with it. A project's row is created with its first event.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("project", PROJECT, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

roles = sa.Table(
    "roles",
    metadata,
    project_column(primary_key=True),
    sa.Column("user", sa.String(256), primary_key=True),
    sa.Column("role", sa.String(64), primary_key=True),
    sa.Column("granted_by", sa.String(256), nullable=False),
    sa.Column("granted_at", sa.BigInteger, nullable=False),
)
