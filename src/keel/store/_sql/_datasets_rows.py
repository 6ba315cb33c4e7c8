"""Tables of datasets (migrations ``datasets_0001``, ``datasets_0002_projects``)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = ["dataset_versions", "datasets"]

# One row per dataset name in a project; locked while a version of it is numbered.
datasets = sa.Table(
    "datasets",
    metadata,
    project_column(primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    project_column(),
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
