"""Helpers of keel's migration scripts (``migrations/versions``).

SQLite cannot change a table's primary key or drop a constraint written in its
``CREATE TABLE``; the one way is to rebuild the table: create the new one, copy the
rows, drop the old one, rename. :func:`rebuild_table` does that on both dialects, so a
migration states the table it wants once. Foreign keys are off on SQLite while keel
migrates (``Database._migrate``): dropping a parent table with them on would delete
its children's rows (``ON DELETE CASCADE`` runs on ``DROP TABLE``).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateIndex, CreateTable

from keel.store._sql._base import NAMING

__all__ = ["has_table", "new_metadata", "rebuild_table"]


def new_metadata() -> sa.MetaData:
    """A fresh ``MetaData`` with keel's naming convention, for a migration's own tables."""
    return sa.MetaData(naming_convention=NAMING)


def has_table(name: str) -> bool:
    """Whether the database being migrated has a table called ``name``."""
    return sa.inspect(op.get_bind()).has_table(name)


def rebuild_table(table: sa.Table, values: Mapping[str, str] | None = None) -> None:
    """Give the table named ``table.name`` the definition ``table``, keeping its rows.

    Args:
        table: the new definition (on its own ``MetaData``; indexes included).
        values: SQL expressions (over the old table's columns) for the new columns that
            do not exist in the old table, e.g. ``{"project": "'default'"}``; every other
            column is copied from the old column of the same name.

    A table that other tables' foreign keys point to is rebuilt before them: on
    PostgreSQL dropping the old table drops those foreign keys (``CASCADE``), so each
    referencing table must be rebuilt in the same migration (its new definition
    declares them again).
    """
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    name = table.name
    columns = [c.name for c in table.columns]
    values = values or {}
    exprs = ", ".join(values.get(c, quote(c)) for c in columns)
    listed = ", ".join(quote(c) for c in columns)
    ddl = str(CreateTable(table).compile(dialect=bind.dialect))
    if bind.dialect.name == "sqlite":
        # Constraint names are computed from the final name; only the table's own name
        # in the first line changes to the temporary one.
        tmp = f"_keel_new_{name}"
        head = f"CREATE TABLE {quote(name)} "
        if head not in ddl:  # pragma: no cover - a compiler change would be caught here
            raise RuntimeError(f"cannot rebuild {name}: unexpected DDL {ddl[:80]!r}")
        bind.exec_driver_sql(ddl.replace(head, f"CREATE TABLE {quote(tmp)} ", 1))
        # Identifiers quoted by the dialect; expressions come from the migration itself.
        copy = f"INSERT INTO {quote(tmp)} ({listed}) SELECT {exprs} FROM {quote(name)}"  # noqa: S608
        bind.exec_driver_sql(copy)
        bind.exec_driver_sql(f"DROP TABLE {quote(name)}")
        bind.exec_driver_sql(f"ALTER TABLE {quote(tmp)} RENAME TO {quote(name)}")
    else:
        old = f"_keel_old_{name}"
        bind.exec_driver_sql(f"ALTER TABLE {quote(name)} RENAME TO {quote(old)}")
        bind.exec_driver_sql(ddl)
        copy = f"INSERT INTO {quote(name)} ({listed}) SELECT {exprs} FROM {quote(old)}"  # noqa: S608
        bind.exec_driver_sql(copy)
        bind.exec_driver_sql(f"DROP TABLE {quote(old)} CASCADE")
    for index in table.indexes:
        bind.execute(CreateIndex(index))
