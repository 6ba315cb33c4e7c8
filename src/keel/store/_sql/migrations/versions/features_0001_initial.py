"""features: every version of a project's entities, feature views and feature services

Revision ID: features_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "features_0001"
down_revision = None
branch_labels = ("features",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("project", sa.String(64), nullable=False, server_default=sa.text("'default'")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("spec", sa.Text, nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint(
            "project", "kind", "name", "version", name="pk_feature_definitions"
        ),
    )


def downgrade() -> None:
    op.drop_table("feature_definitions")
