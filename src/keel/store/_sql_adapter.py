"""The SQL store with the :class:`~keel.store._migratable.Migratable` capability.

An adapter kept outside ``store/_sql/`` for now: :func:`keel.store._open.build_store`
builds SQL stores as this class. (When ``SqlStore`` implements ``Migratable`` itself,
this module goes.)
"""

from __future__ import annotations

from keel.store._migratable import Migratable
from keel.store._sql import SqlStore

__all__ = ["MigratableSqlStore"]


class MigratableSqlStore(SqlStore, Migratable):
    """The SQL store, with its Alembic migrations as the Migratable capability."""

    def upgrade_schema(self) -> list[str]:
        """Apply pending migrations (opening does, serialised across processes).

        Returns:
            The Alembic revision heads now in force, sorted.
        """
        self.open()
        from alembic.runtime.migration import MigrationContext

        with self.database.engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
