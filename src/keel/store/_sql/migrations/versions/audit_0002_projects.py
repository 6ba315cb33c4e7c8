"""audit: one hash chain per project; role grants per project

Existing events, the head and role grants move into project ``default``. Events keep
their seq and hash (the hash covers neither the project nor anything that changes
here), so a chain that verified before verifies after. ``seq`` now counts per project,
and ``audit_head`` holds one row per project.

Revision ID: audit_0002
Revises: audit_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._migrate import new_metadata, rebuild_table

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None

_PROJECT = sa.String(64)


def _project() -> sa.Column[str]:
    return sa.Column(
        "project", _PROJECT, primary_key=True, nullable=False, server_default=sa.text("'default'")
    )


def upgrade() -> None:
    md = new_metadata()
    events = sa.Table(
        "audit_events",
        md,
        _project(),
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
    head = sa.Table(
        "audit_head",
        md,
        sa.Column("project", _PROJECT, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    roles = sa.Table(
        "roles",
        md,
        _project(),
        sa.Column("user", sa.String(256), primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("granted_by", sa.String(256), nullable=False),
        sa.Column("granted_at", sa.BigInteger, nullable=False),
    )
    rebuild_table(events, {"project": "'default'"})
    # The one head row (id 1) becomes project default's.
    rebuild_table(head, {"project": "'default'"})
    rebuild_table(roles, {"project": "'default'"})


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
