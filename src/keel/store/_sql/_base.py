"""The metadata every domain's tables are defined in (what the migrations build).

The tables are SQLAlchemy Core ``Table`` objects, not ORM classes: keel's SQL is all
Core, and importing ``sqlalchemy.orm`` and building mapped classes cost about 0.15 s
of every CLI command's start-up (docs/decisions.md, issue 9).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import MetaData

__all__ = ["NAMING", "PROJECT", "metadata", "project_column"]

#: the type of every ``project`` column (names are at most 63 characters)
PROJECT = sa.String(64)

#: how constraints and indexes are named (migrations build their tables with it too)
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def project_column(*, primary_key: bool = False) -> sa.Column[str]:
    """The ``project`` column a project-bound table starts with.

    Migrated tables hold the server default ``'default'`` (rows from before projects
    existed are in project ``default``); keel itself always writes the column.
    """
    return sa.Column(
        "project",
        PROJECT,
        primary_key=primary_key,
        nullable=False,
        server_default=sa.text("'default'"),
    )
