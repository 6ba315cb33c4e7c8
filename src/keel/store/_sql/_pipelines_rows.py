"""Tables of the pipelines domain (the migration ``pipelines_0001`` creates them)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata

__all__ = ["pipeline_runs", "step_runs"]

_ID = sa.String(32)

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("pipeline_name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("user", sa.String(256), nullable=False),
    sa.Column("executor", sa.String(64), nullable=False),
    sa.Column("start_time", sa.BigInteger, index=True, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Index("ix_pipeline_runs_name_start", "pipeline_name", "start_time"),
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "pipeline_run_id",
        _ID,
        sa.ForeignKey("pipeline_runs.id", ondelete="CASCADE"),
        index=True,
        nullable=False,
    ),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("upstream", sa.Text, nullable=False),
    sa.Column("cache_key", sa.String(64), nullable=True),
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("outputs", sa.Text, nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=True),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("logs", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("traceback", sa.Text, nullable=True),
    sa.Column("cached_from", _ID, nullable=True),
    sa.UniqueConstraint("pipeline_run_id", "name"),
    sa.Index("ix_step_runs_cache", "cache_key", "status"),
)
