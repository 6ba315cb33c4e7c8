"""pipelines: pipeline runs and step runs

Revision ID: pipelines_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "pipelines_0001"
down_revision = None
branch_labels = ("pipelines",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pipeline_name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("user", sa.String(256), nullable=False),
        sa.Column("executor", sa.String(64), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_pipeline_runs_start_time", "pipeline_runs", ["start_time"])
    op.create_index("ix_pipeline_runs_name_start", "pipeline_runs", ["pipeline_name", "start_time"])
    op.create_table(
        "step_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "pipeline_run_id",
            sa.String(32),
            sa.ForeignKey(
                "pipeline_runs.id",
                ondelete="CASCADE",
                name="fk_step_runs_pipeline_run_id_pipeline_runs",
            ),
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
        sa.Column("cached_from", sa.String(32), nullable=True),
        sa.UniqueConstraint("pipeline_run_id", "name", name="uq_step_runs_pipeline_run_id_name"),
    )
    op.create_index("ix_step_runs_pipeline_run_id", "step_runs", ["pipeline_run_id"])
    op.create_index("ix_step_runs_cache", "step_runs", ["cache_key", "status"])


def downgrade() -> None:
    op.drop_table("step_runs")
    op.drop_table("pipeline_runs")
