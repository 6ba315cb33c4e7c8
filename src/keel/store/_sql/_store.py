"""The SQL ``Store``: every domain's SQL implementation over one :class:`Database`."""

from __future__ import annotations

from keel._redact import safe_uri
from keel.store._audit import GovernanceStore
from keel.store._datasets import DatasetStore
from keel.store._interfaces import Store, TrackingStore
from keel.store._lineage import LineageStore
from keel.store._pipelines import PipelineStore
from keel.store._registry import RegistryStore
from keel.store._sql._audit import SqlGovernanceStore
from keel.store._sql._database import Database
from keel.store._sql._datasets import SqlDatasetStore
from keel.store._sql._lineage import SqlLineageStore
from keel.store._sql._pipelines import SqlPipelineStore
from keel.store._sql._registry import SqlRegistryStore
from keel.store._sql._tracking import SqlTrackingStore

__all__ = ["SqlStore"]


class SqlStore(Store):
    """Metadata in SQLite (WAL) or PostgreSQL.

    Args:
        uri: ``sqlite:///PATH`` or ``postgresql+psycopg://USER@HOST:PORT/DB``.
        sqlite_synchronous: SQLite ``synchronous`` pragma (``FULL`` or ``NORMAL``).

    The constructor does no I/O; :meth:`open` (or first use) connects and migrates.
    """

    def __init__(self, uri: str, sqlite_synchronous: str = "NORMAL") -> None:
        self.database = Database(uri, sqlite_synchronous=sqlite_synchronous)
        self._tracking = SqlTrackingStore(self.database)
        self._lineage = SqlLineageStore(self.database)
        self._datasets = SqlDatasetStore(self.database)
        self._registry = SqlRegistryStore(self.database)
        self._governance = SqlGovernanceStore(self.database)
        self._pipelines = SqlPipelineStore(self.database)

    @property
    def uri(self) -> str:
        return safe_uri(self.database.uri)

    @property
    def tracking(self) -> TrackingStore:
        return self._tracking

    @property
    def lineage(self) -> LineageStore:
        return self._lineage

    @property
    def datasets(self) -> DatasetStore:
        return self._datasets

    @property
    def registry(self) -> RegistryStore:
        return self._registry

    @property
    def governance(self) -> GovernanceStore:
        return self._governance

    @property
    def pipelines(self) -> PipelineStore:
        return self._pipelines

    def open(self) -> None:
        self.database.open()

    def close(self) -> None:
        self.database.close()
