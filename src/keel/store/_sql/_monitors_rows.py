"""Tables of monitors (migration ``monitors_0001``).

``monitors`` holds each monitor's current revision and ``monitor_revisions`` every
change; ``monitor_results`` one immutable row per (monitor, window, check);
``monitor_alerts`` one row per (monitor, rule, window) with what became of its action.
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = ["monitor_alerts", "monitor_results", "monitor_revisions", "monitors"]

monitors = sa.Table(
    "monitors",
    metadata,
    project_column(primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)

monitor_revisions = sa.Table(
    "monitor_revisions",
    metadata,
    project_column(primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("endpoint", sa.String(128), nullable=True),
    sa.Column("spec", sa.Text, nullable=True),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)

monitor_results = sa.Table(
    "monitor_results",
    metadata,
    project_column(primary_key=True),
    sa.Column("monitor", sa.String(128), primary_key=True),
    sa.Column("window", sa.String(64), primary_key=True),
    sa.Column("check", sa.String(32), primary_key=True),
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
    sa.Index("ix_monitor_results_project_monitor_window_end", "project", "monitor", "window_end"),
)

monitor_alerts = sa.Table(
    "monitor_alerts",
    metadata,
    project_column(primary_key=True),
    sa.Column("id", sa.String(32), primary_key=True),
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
    sa.Index("ix_monitor_alerts_project_monitor_fired_at", "project", "monitor", "fired_at"),
)
