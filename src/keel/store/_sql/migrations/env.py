"""Alembic environment: keel always passes an open connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - keel never runs alembic without one
    raise RuntimeError("keel migrations run through keel.store (keel db upgrade)")

context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
