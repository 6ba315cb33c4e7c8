"""lineage: nodes and edges

Revision ID: lineage_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lineage_0001"
down_revision = None
branch_labels = ("lineage",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_nodes",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(512), primary_key=True),
        sa.Column("label", sa.String(512), nullable=False),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("src_kind", sa.String(64), primary_key=True),
        sa.Column("src_id", sa.String(512), primary_key=True),
        sa.Column("dst_kind", sa.String(64), primary_key=True),
        sa.Column("dst_id", sa.String(512), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_lineage_edges_target", "lineage_edges", ["dst_kind", "dst_id"])


def downgrade() -> None:
    op.drop_table("lineage_edges")
    op.drop_table("lineage_nodes")
