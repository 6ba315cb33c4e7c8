"""Tables of endpoints (migration ``endpoints_0001``).

``endpoints`` holds each endpoint's current revision; ``endpoint_revisions`` every
change, deletes included, so a name's revision numbers never repeat.
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = ["endpoint_revisions", "endpoints"]

endpoints = sa.Table(
    "endpoints",
    metadata,
    project_column(primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("model_versions", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)

endpoint_revisions = sa.Table(
    "endpoint_revisions",
    metadata,
    project_column(primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("spec", sa.Text, nullable=True),
    sa.Column("model_versions", sa.Text, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)
