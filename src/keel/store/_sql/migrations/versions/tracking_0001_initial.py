"""tracking: experiments, runs, params, tags, metrics, artifacts

Each domain of keel keeps its own branch of migrations (branch label = domain), so
domains evolve independently; ``keel db upgrade`` applies every branch's head.

Revision ID: tracking_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tracking_0001"
down_revision = None
branch_labels = ("tracking",)
depends_on = None

_ID = sa.String(32)
_KEY = sa.String(250)
_FLOAT = sa.Float(precision=53)
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            _ID,
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", _KEY, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "experiment_id",
            _ID,
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column(
            "parent_run_id", _ID, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("user", sa.String(256), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_runs_experiment_id", "runs", ["experiment_id"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    for table in ("run_params", "run_tags"):
        op.create_table(
            table,
            sa.Column(
                "run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
            ),
            sa.Column("key", _KEY, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metrics",
        sa.Column("id", _BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", _FLOAT, nullable=True),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", _KEY, primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", _FLOAT, nullable=True),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "run_artifacts",
        sa.Column("run_id", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "run_artifacts",
        "latest_metrics",
        "metrics",
        "run_tags",
        "run_params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(table)
