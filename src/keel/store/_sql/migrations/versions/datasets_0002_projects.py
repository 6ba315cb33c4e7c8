"""datasets: datasets belong to a project; names are unique per project

Existing datasets and versions move into project ``default``. The primary key of
``datasets`` becomes (project, name), so both tables are rebuilt.

Revision ID: datasets_0002
Revises: datasets_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._migrate import new_metadata, rebuild_table

revision = "datasets_0002"
down_revision = "datasets_0001"
branch_labels = None
depends_on = None

_PROJECT = sa.String(64)
_DEFAULT = sa.text("'default'")


def upgrade() -> None:
    md = new_metadata()
    datasets = sa.Table(
        "datasets",
        md,
        sa.Column("project", _PROJECT, primary_key=True, server_default=_DEFAULT),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    versions = sa.Table(
        "dataset_versions",
        md,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project", _PROJECT, nullable=False, server_default=_DEFAULT),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("num_rows", sa.BigInteger, nullable=False),
        sa.Column("schema_json", sa.Text, nullable=False),
        sa.Column("profile_json", sa.Text, nullable=False),
        sa.Column("validation_json", sa.Text, nullable=True),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("tags_json", sa.Text, nullable=False),
        sa.Column("parent_ids_json", sa.Text, nullable=False),
        sa.Column("derivation_json", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project", "name"],
            ["datasets.project", "datasets.name"],
            ondelete="CASCADE",
            name="fk_dataset_versions_project_name_datasets",
        ),
        sa.UniqueConstraint(
            "project", "name", "version", name="uq_dataset_versions_project_name_version"
        ),
        sa.UniqueConstraint(
            "project", "name", "content_hash", name="uq_dataset_versions_project_name_hash"
        ),
        sa.Index("ix_dataset_versions_content_hash", "content_hash"),
    )
    rebuild_table(datasets, {"project": "'default'"})
    rebuild_table(versions, {"project": "'default'"})


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
