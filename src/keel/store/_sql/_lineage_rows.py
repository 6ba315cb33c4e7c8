"""Tables of lineage (migrations ``lineage_0001``, ``lineage_0002_projects``)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = ["lineage_edges", "lineage_nodes"]

lineage_nodes = sa.Table(
    "lineage_nodes",
    metadata,
    project_column(primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("label", sa.String(512), nullable=False),
)

lineage_edges = sa.Table(
    "lineage_edges",
    metadata,
    project_column(primary_key=True),
    sa.Column("src_kind", sa.String(64), primary_key=True),
    sa.Column("src_id", sa.String(512), primary_key=True),
    sa.Column("dst_kind", sa.String(64), primary_key=True),
    sa.Column("dst_id", sa.String(512), primary_key=True),
    sa.Column("relation", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_lineage_edges_project_target", "project", "dst_kind", "dst_id"),
)
