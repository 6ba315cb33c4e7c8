"""An optional capability of a ``Store``: a schema that keel migrates itself.

The SQL stores have one (Alembic revisions, applied by ``keel db upgrade`` and on
open); a keel server's REST store does not: its server upgrades its own database.
Code that migrates checks for this interface instead of for a backend class.
"""

from __future__ import annotations

import abc

__all__ = ["Migratable"]


class Migratable(abc.ABC):
    """A store whose schema keel migrates (``isinstance(store, Migratable)``)."""

    @abc.abstractmethod
    def upgrade_schema(self) -> list[str]:
        """Apply every pending migration (idempotent).

        Returns:
            The revision heads now in force, sorted.

        Raises:
            StoreError: the database cannot be reached.
        """
