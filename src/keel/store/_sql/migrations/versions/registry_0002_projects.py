"""registry: registered models belong to a project; names are unique per project

Existing models, versions, files, aliases, alias moves and gate results move into
project ``default``. The keys of the first four tables start with the project, so
they are rebuilt (parents first); the other two gain a column.

Revision ID: registry_0002
Revises: registry_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keel.store._sql._migrate import new_metadata, rebuild_table

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None

_PROJECT = sa.String(64)
_DEFAULT = sa.text("'default'")


def _project(primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "project", _PROJECT, primary_key=primary_key, nullable=False, server_default=_DEFAULT
    )


def upgrade() -> None:
    md = new_metadata()
    models = sa.Table(
        "registered_models",
        md,
        _project(primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
    )
    versions = sa.Table(
        "model_versions",
        md,
        _project(primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
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
        sa.ForeignKeyConstraint(
            ["project", "name"],
            ["registered_models.project", "registered_models.name"],
            name="fk_model_versions_project_name_registered_models",
        ),
        sa.Index("ix_model_versions_run_id", "run_id"),
    )
    files = sa.Table(
        "model_version_files",
        md,
        _project(primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["project", "name", "version"],
            ["model_versions.project", "model_versions.name", "model_versions.version"],
            name="fk_model_version_files_project_name_version_model_versions",
        ),
    )
    aliases = sa.Table(
        "model_aliases",
        md,
        _project(primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(
            ["project", "name"],
            ["registered_models.project", "registered_models.name"],
            name="fk_model_aliases_project_name_registered_models",
        ),
    )
    for table in (models, versions, files, aliases):
        rebuild_table(table, {"project": "'default'"})
    for name in ("model_alias_history", "gate_results"):
        op.add_column(name, _project())
    op.drop_index("ix_model_alias_history_name_alias", "model_alias_history")
    op.create_index(
        "ix_model_alias_history_project_name_alias",
        "model_alias_history",
        ["project", "name", "alias"],
    )
    op.drop_index("ix_gate_results_name_version", "gate_results")
    op.create_index(
        "ix_gate_results_project_name_version", "gate_results", ["project", "name", "version"]
    )


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
