"""registry: registered models, versions and their files, aliases, alias history, gate results

Revision ID: registry_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "name", sa.String(128), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("flavor", sa.String(32), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("datasets", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_files",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"], ["model_versions.name", "model_versions.version"]
        ),
    )
    op.create_table(
        "model_aliases",
        sa.Column(
            "name", sa.String(128), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("gate_result_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_model_alias_history_name_alias", "model_alias_history", ["name", "alias"])
    op.create_table(
        "gate_results",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("checks", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
    )
    op.create_index("ix_gate_results_name_version", "gate_results", ["name", "version"])


def downgrade() -> None:
    op.drop_table("gate_results")
    op.drop_table("model_alias_history")
    op.drop_table("model_aliases")
    op.drop_table("model_version_files")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
