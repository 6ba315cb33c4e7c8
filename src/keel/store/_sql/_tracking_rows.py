"""Tables of the tracking domain (migrations ``tracking_0001``, ``tracking_0002_projects``)."""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = [
    "experiment_tags",
    "experiments",
    "latest_metrics",
    "metrics",
    "run_artifacts",
    "run_params",
    "run_tags",
    "runs",
]

_ID = sa.String(32)
_KEY = sa.String(250)
_FLOAT = sa.Float(precision=53)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    project_column(),
    sa.UniqueConstraint("project", "name", name="uq_experiments_project_name"),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column(
        "experiment_id", _ID, sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "experiment_id",
        _ID,
        sa.ForeignKey("experiments.id", ondelete="CASCADE"),
        index=True,
        nullable=False,
    ),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column(
        "parent_run_id",
        _ID,
        sa.ForeignKey("runs.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("user", sa.String(256), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    # The experiment's project, repeated so that a run is checked by its id alone.
    project_column(),
    sa.Index("ix_runs_project_start_time", "project", "start_time"),
)

run_params = sa.Table(
    "run_params",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# One value of a metric series. SQLite stores NaN as NULL, hence ``is_nan``.
metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", _KEY, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("value", _FLOAT, nullable=True),
    sa.Column("is_nan", sa.Boolean, nullable=False),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

# The value at the highest step of each metric, kept for fast search and sort.
latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("value", _FLOAT, nullable=True),
    sa.Column("is_nan", sa.Boolean, nullable=False),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

run_artifacts = sa.Table(
    "run_artifacts",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# Metric batches stored under a caller's id, so a batch sent again after a lost answer
# (a client retrying through a keel server) is recognised and not stored twice.
metric_batches = sa.Table(
    "metric_batches",
    metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
