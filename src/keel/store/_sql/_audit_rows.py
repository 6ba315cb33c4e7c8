"""ORM rows of governance: the audit chain, its head and user roles (migration ``audit_0001``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._sql._base import Base

__all__ = ["AuditEventRow", "AuditHeadRow", "RoleRow"]


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
        sa.Index("ix_audit_events_actor", "actor"),
        sa.Index("ix_audit_events_time", "time"),
    )
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[int] = mapped_column(sa.BigInteger)
    actor: Mapped[str] = mapped_column(sa.String(256))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[str] = mapped_column(sa.String(512))
    before: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    after: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHeadRow(Base):
    """One row: the last event's seq and hash. Appends lock it; verify compares with it."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))


class RoleRow(Base):
    __tablename__ = "roles"
    user: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    granted_by: Mapped[str] = mapped_column(sa.String(256))
    granted_at: Mapped[int] = mapped_column(sa.BigInteger)
