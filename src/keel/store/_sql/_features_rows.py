"""The table of feature definitions (migration ``features_0001``).

One row per version of an entity, feature view or feature service; a retirement is a
row without a spec. Rows are only ever inserted.
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import metadata, project_column

__all__ = ["feature_definitions"]

feature_definitions = sa.Table(
    "feature_definitions",
    metadata,
    project_column(primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("spec", sa.Text, nullable=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)
