"""tracking: metric batches stored under the caller's id (a retried batch is stored once)

Revision ID: tracking_0003
Revises: tracking_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tracking_0003"
down_revision = "tracking_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_batches",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column(
            "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_batches")
