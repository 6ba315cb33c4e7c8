"""access: projects, users, API tokens and the objects each project may read

Creates project ``default`` (where every existing object now lives) and fills
``project_objects`` from every stored reference to a content-addressed object: run
artifacts, dataset versions, model files and pipeline step outputs.

Revision ID: access_0001
Revises:
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from alembic import op

from keel.store._sql._migrate import has_table

revision = "access_0001"
down_revision = None
branch_labels = ("access",)
depends_on = None

_PROJECT = sa.String(64)
_SHA = sa.String(64)
# Step outputs stored as bytes in the artifact store name them by sha256 in ``ref``.
_BYTES_KINDS = ("json", "npy", "pickle")


def upgrade() -> None:
    projects = op.create_table(
        "projects",
        sa.Column("name", _PROJECT, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column(
            "user",
            sa.String(64),
            sa.ForeignKey("users.name", name="fk_tokens_user_users"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("last_used_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_tokens_user", "tokens", ["user"])
    objects = op.create_table(
        "project_objects",
        sa.Column("project", _PROJECT, primary_key=True),
        sa.Column("sha256", _SHA, primary_key=True),
    )
    op.bulk_insert(
        projects,
        [
            {
                "name": "default",
                "description": "objects from before projects existed, and the default project",
                "created_at": int(time.time() * 1000),
                "created_by": "keel",
            }
        ],
    )
    _backfill(objects)


def _backfill(objects: sa.Table) -> None:
    """Every reference stored before this migration is in project ``default``."""
    bind = op.get_bind()
    found: set[str] = set()
    sources = (
        ("run_artifacts", "sha256"),
        ("dataset_versions", "content_hash"),
        ("model_version_files", "sha256"),
    )
    for table, column in sources:
        if has_table(table):
            found.update(
                # Names from the list above, not from input.
                bind.execute(sa.text(f"SELECT DISTINCT {column} FROM {table}")).scalars()  # noqa: S608
            )
    if has_table("step_runs"):
        rows = bind.execute(sa.text("SELECT outputs FROM step_runs WHERE outputs <> '[]'"))
        for (text,) in rows:
            for output in json.loads(text):
                found.update(_output_shas(output))
    shas = sorted(s for s in found if isinstance(s, str) and len(s) == 64)
    for i in range(0, len(shas), 1000):
        op.bulk_insert(objects, [{"project": "default", "sha256": s} for s in shas[i : i + 1000]])


def _output_shas(output: dict[str, Any]) -> list[str]:
    if output.get("kind") in _BYTES_KINDS:
        return [str(output.get("ref", ""))]
    if output.get("kind") == "dataset":
        return [str(output.get("content_hash", ""))]
    return []


def downgrade() -> None:  # pragma: no cover - keel does not migrate down
    raise NotImplementedError("keel migrations go forward only")
