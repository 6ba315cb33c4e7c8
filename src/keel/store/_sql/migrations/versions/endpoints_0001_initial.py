"""endpoints: a project's endpoints (current revision) and every revision

Revision ID: endpoints_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "endpoints_0001"
down_revision = None
branch_labels = ("endpoints",)
depends_on = None


def _project() -> sa.Column[str]:
    return sa.Column(
        "project",
        sa.String(64),
        nullable=False,
        server_default=sa.text("'default'"),
    )


def upgrade() -> None:
    op.create_table(
        "endpoints",
        _project(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("model_versions", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("project", "name", name="pk_endpoints"),
    )
    op.create_table(
        "endpoint_revisions",
        _project(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text, nullable=True),
        sa.Column("model_versions", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("project", "name", "revision", name="pk_endpoint_revisions"),
    )


def downgrade() -> None:
    op.drop_table("endpoint_revisions")
    op.drop_table("endpoints")
