"""lineage: edges and node labels belong to a project

Existing edges and labels move into project ``default``; both tables are rebuilt
(their primary keys start with the project).

Revision ID: lineage_0002
Revises: lineage_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._migrate import new_metadata, rebuild_table

revision = "lineage_0002"
down_revision = "lineage_0001"
branch_labels = None
depends_on = None


def _project() -> sa.Column[str]:
    return sa.Column(
        "project",
        sa.String(64),
        primary_key=True,
        nullable=False,
        server_default=sa.text("'default'"),
    )


def upgrade() -> None:
    md = new_metadata()
    nodes = sa.Table(
        "lineage_nodes",
        md,
        _project(),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(512), primary_key=True),
        sa.Column("label", sa.String(512), nullable=False),
    )
    edges = sa.Table(
        "lineage_edges",
        md,
        _project(),
        sa.Column("src_kind", sa.String(64), primary_key=True),
        sa.Column("src_id", sa.String(512), primary_key=True),
        sa.Column("dst_kind", sa.String(64), primary_key=True),
        sa.Column("dst_id", sa.String(512), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Index("ix_lineage_edges_project_target", "project", "dst_kind", "dst_id"),
    )
    rebuild_table(nodes, {"project": "'default'"})
    rebuild_table(edges, {"project": "'default'"})


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
