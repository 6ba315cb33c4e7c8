"""tracking: experiments and runs belong to a project; experiment names are unique per project

Existing experiments and runs move into project ``default``. ``runs.project`` repeats
its experiment's project, so a run is checked by its id alone on the hot paths.

Revision ID: tracking_0002
Revises: tracking_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keel.store._sql._migrate import new_metadata, rebuild_table

revision = "tracking_0002"
down_revision = "tracking_0001"
branch_labels = None
depends_on = None

_PROJECT = sa.String(64)
_DEFAULT = sa.text("'default'")


def upgrade() -> None:
    op.add_column("runs", sa.Column("project", _PROJECT, nullable=False, server_default=_DEFAULT))
    op.create_index("ix_runs_project_start_time", "runs", ["project", "start_time"])
    if op.get_bind().dialect.name == "sqlite":
        # The name's UNIQUE is part of the CREATE TABLE: only a rebuild removes it.
        experiments = sa.Table(
            "experiments",
            new_metadata(),
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("name", sa.String(256), nullable=False),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Column("project", _PROJECT, nullable=False, server_default=_DEFAULT),
            sa.UniqueConstraint("project", "name", name="uq_experiments_project_name"),
        )
        rebuild_table(experiments, {"project": "'default'"})
    else:
        # Not rebuilt here: runs and experiment tags keep their foreign keys to it.
        op.add_column(
            "experiments",
            sa.Column("project", _PROJECT, nullable=False, server_default=_DEFAULT),
        )
        op.drop_constraint("uq_experiments_name", "experiments", type_="unique")
        op.create_unique_constraint(
            "uq_experiments_project_name", "experiments", ["project", "name"]
        )


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
