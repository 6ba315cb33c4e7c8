"""ORM rows of the pipelines domain (the migration ``pipelines_0001`` creates them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._sql._base import Base

__all__ = ["PipelineRunRow", "StepRunRow"]

_ID = sa.String(32)


class PipelineRunRow(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (sa.Index("ix_pipeline_runs_name_start", "pipeline_name", "start_time"),)
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    pipeline_name: Mapped[str] = mapped_column(sa.String(256))
    status: Mapped[str] = mapped_column(sa.String(16))
    params: Mapped[str] = mapped_column(sa.Text)
    user: Mapped[str] = mapped_column(sa.String(256))
    executor: Mapped[str] = mapped_column(sa.String(64))
    start_time: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    end_time: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


class StepRunRow(Base):
    __tablename__ = "step_runs"
    __table_args__ = (
        sa.UniqueConstraint("pipeline_run_id", "name"),
        sa.Index("ix_step_runs_cache", "cache_key", "status"),
    )
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    pipeline_run_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("pipeline_runs.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(256))
    status: Mapped[str] = mapped_column(sa.String(16))
    position: Mapped[int] = mapped_column(sa.Integer)
    upstream: Mapped[str] = mapped_column(sa.Text)
    cache_key: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    code_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    params: Mapped[str] = mapped_column(sa.Text)
    inputs: Mapped[str] = mapped_column(sa.Text)
    outputs: Mapped[str] = mapped_column(sa.Text)
    start_time: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    end_time: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    logs: Mapped[str] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    cached_from: Mapped[str | None] = mapped_column(_ID, nullable=True)
