"""Tables of datasets (migration ``datasets_0001``)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata

__all__ = ["dataset_versions", "datasets"]

# One row per dataset name; locked while a version of it is numbered.
datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "name", sa.String(128), sa.ForeignKey("datasets.name", ondelete="CASCADE"), nullable=False
    ),
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
    sa.UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
    sa.UniqueConstraint("name", "content_hash", name="uq_dataset_versions_name_hash"),
    sa.Index("ix_dataset_versions_content_hash", "content_hash"),
)
