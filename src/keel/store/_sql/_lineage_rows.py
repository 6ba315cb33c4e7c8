"""ORM rows of lineage (migration ``lineage_0001``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._sql._base import Base

__all__ = ["LineageEdgeRow", "LineageNodeRow"]


class LineageNodeRow(Base):
    __tablename__ = "lineage_nodes"
    kind: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(512))


class LineageEdgeRow(Base):
    __tablename__ = "lineage_edges"
    __table_args__ = (sa.Index("ix_lineage_edges_target", "dst_kind", "dst_id"),)
    src_kind: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    src_id: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    dst_kind: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    dst_id: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    relation: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
