"""pipelines: pipeline runs (and their step runs) belong to a project

Existing runs move into project ``default``. ``step_runs.project`` repeats its
pipeline run's, so the step cache is looked up within one project.

Revision ID: pipelines_0002
Revises: pipelines_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "pipelines_0002"
down_revision = "pipelines_0001"
branch_labels = None
depends_on = None


def _project() -> sa.Column[str]:
    return sa.Column("project", sa.String(64), nullable=False, server_default=sa.text("'default'"))


def upgrade() -> None:
    op.add_column("pipeline_runs", _project())
    op.add_column("step_runs", _project())
    op.drop_index("ix_pipeline_runs_start_time", "pipeline_runs")
    op.drop_index("ix_pipeline_runs_name_start", "pipeline_runs")
    op.drop_index("ix_step_runs_cache", "step_runs")
    op.create_index("ix_pipeline_runs_project_start", "pipeline_runs", ["project", "start_time"])
    op.create_index(
        "ix_pipeline_runs_project_name_start",
        "pipeline_runs",
        ["project", "pipeline_name", "start_time"],
    )
    op.create_index("ix_step_runs_project_cache", "step_runs", ["project", "cache_key", "status"])


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
