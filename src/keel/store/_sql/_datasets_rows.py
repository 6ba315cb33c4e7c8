"""ORM rows of datasets (migration ``datasets_0001``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._sql._base import Base

__all__ = ["DatasetRow", "DatasetVersionRow"]


class DatasetRow(Base):
    """One row per dataset name; locked while a version of it is numbered."""

    __tablename__ = "datasets"
    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        sa.UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
        sa.UniqueConstraint("name", "content_hash", name="uq_dataset_versions_name_hash"),
        sa.Index("ix_dataset_versions_content_hash", "content_hash"),
    )
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(
        sa.String(128), sa.ForeignKey("datasets.name", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    num_rows: Mapped[int] = mapped_column(sa.BigInteger)
    schema_json: Mapped[str] = mapped_column(sa.Text)
    profile_json: Mapped[str] = mapped_column(sa.Text)
    validation_json: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    valid: Mapped[bool] = mapped_column(sa.Boolean)
    source_uri: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    tags_json: Mapped[str] = mapped_column(sa.Text)
    parent_ids_json: Mapped[str] = mapped_column(sa.Text)
    derivation_json: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
