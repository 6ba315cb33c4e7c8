"""Tables of the model registry (migrations ``registry_0001``, ``registry_0002_projects``).

A model's name is unique within its project, so every key starts with ``project``.
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = [
    "gate_results",
    "model_alias_history",
    "model_aliases",
    "model_version_files",
    "model_versions",
    "registered_models",
]

registered_models = sa.Table(
    "registered_models",
    metadata,
    project_column(primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    project_column(primary_key=True),
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

model_version_files = sa.Table(
    "model_version_files",
    metadata,
    project_column(primary_key=True),
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

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    project_column(primary_key=True),
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

model_alias_history = sa.Table(
    "model_alias_history",
    metadata,
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
    project_column(),
    sa.Index("ix_model_alias_history_project_name_alias", "project", "name", "alias"),
)

gate_results = sa.Table(
    "gate_results",
    metadata,
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
    project_column(),
    sa.Index("ix_gate_results_project_name_version", "project", "name", "version"),
)
