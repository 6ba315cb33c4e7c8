"""The metadata every domain's tables are defined in (what the migrations build).

The tables are SQLAlchemy Core ``Table`` objects, not ORM classes: keel's SQL is all
Core, and importing ``sqlalchemy.orm`` and building mapped classes cost about 0.15 s
of every CLI command's start-up (docs/decisions.md, issue 9).
"""

from __future__ import annotations

from sqlalchemy import MetaData

__all__ = ["metadata"]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=_NAMING)
