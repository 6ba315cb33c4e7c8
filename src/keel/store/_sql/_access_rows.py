"""Tables of access: projects, users, API tokens, and the objects each project may read.

Migration ``access_0001_initial`` creates them (and project ``default``).
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store._sql._base import PROJECT, metadata

__all__ = ["project_objects", "projects", "tokens", "users"]

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("name", PROJECT, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
)

# A token's secret is never stored: ``secret_hash`` is the SHA-256 (hex) of all of it.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column(
        "user",
        sa.String(64),
        sa.ForeignKey("users.name", name="fk_tokens_user_users"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=True),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Column("last_used_at", sa.BigInteger, nullable=True),
)

# Which content-addressed objects (by sha256) a project references, so may read.
project_objects = sa.Table(
    "project_objects",
    metadata,
    sa.Column("project", PROJECT, primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
)
