"""Tables of the pipelines domain (migrations ``pipelines_0001``, ``pipelines_0002_projects``)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

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
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    project_column(),
    sa.Index("ix_pipeline_runs_project_start", "project", "start_time"),
    sa.Index("ix_pipeline_runs_project_name_start", "project", "pipeline_name", "start_time"),
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
    # The pipeline run's project, repeated so that the step cache is looked up per project.
    project_column(),
    sa.UniqueConstraint("pipeline_run_id", "name"),
    sa.Index("ix_step_runs_project_cache", "project", "cache_key", "status"),
)
