"""monitors: monitors (current revision), their revisions, results and alerts

Revision ID: monitors_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "monitors_0001"
down_revision = None
branch_labels = ("monitors",)
depends_on = None


def _project() -> sa.Column[str]:
    return sa.Column(
        "project",
        sa.String(64),
        nullable=False,
        server_default=sa.text("'default'"),
    )


def upgrade() -> None:
    op.create_table(
        "monitors",
        _project(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("project", "name", name="pk_monitors"),
    )
    op.create_table(
        "monitor_revisions",
        _project(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=True),
        sa.Column("spec", sa.Text, nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("project", "name", "revision", name="pk_monitor_revisions"),
    )
    op.create_table(
        "monitor_results",
        _project(),
        sa.Column("monitor", sa.String(128), nullable=False),
        sa.Column("window", sa.String(64), nullable=False),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("values", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("model_versions", sa.Text, nullable=False),
        sa.Column("reference", sa.Text, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("computed_at", sa.BigInteger, nullable=False),
        sa.Column("computed_by", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("project", "monitor", "window", "check", name="pk_monitor_results"),
    )
    op.create_index(
        "ix_monitor_results_project_monitor_window_end",
        "monitor_results",
        ["project", "monitor", "window_end"],
    )
    op.create_table(
        "monitor_alerts",
        _project(),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("monitor", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("window", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("condition", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fired_at", sa.BigInteger, nullable=False),
        sa.Column("fired_by", sa.String(256), nullable=False),
        sa.Column("action", sa.String(32), nullable=True),
        sa.Column("action_status", sa.String(16), nullable=True),
        sa.Column("action_by", sa.String(256), nullable=True),
        sa.Column("action_at", sa.BigInteger, nullable=True),
        sa.Column("action_detail", sa.Text, nullable=True),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        sa.Column("resolved_window", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("project", "id", name="pk_monitor_alerts"),
    )
    op.create_index(
        "ix_monitor_alerts_project_monitor_fired_at",
        "monitor_alerts",
        ["project", "monitor", "fired_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_monitor_alerts_project_monitor_fired_at", "monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index("ix_monitor_results_project_monitor_window_end", "monitor_results")
    op.drop_table("monitor_results")
    op.drop_table("monitor_revisions")
    op.drop_table("monitors")
