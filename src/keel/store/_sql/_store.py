"""The SQL ``Store``: every domain's SQL implementation over one :class:`Database`.

Each domain's implementation (and its table definitions) is imported on first use, so a
command that only lists runs does not pay for building the registry's, the datasets'
and the pipelines' tables: a CLI start-up cost measured in docs/benchmarks.md.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from keel._redact import safe_uri
from keel.store._access import DEFAULT_PROJECT, check_project_name
from keel.store._interfaces import Store
from keel.store._migratable import Migratable
from keel.store._sql._database import Database

if TYPE_CHECKING:
    from keel.store._access import AccessStore
    from keel.store._audit import GovernanceStore
    from keel.store._datasets import DatasetStore
    from keel.store._endpoints import EndpointStore
    from keel.store._features import FeatureStore
    from keel.store._interfaces import TrackingStore
    from keel.store._lineage import LineageStore
    from keel.store._monitors import MonitorStore
    from keel.store._pipelines import PipelineStore
    from keel.store._registry import RegistryStore

__all__ = ["SqlStore"]


class SqlStore(Store, Migratable):
    """Metadata in SQLite (WAL) or PostgreSQL, bound to one project.

    Args:
        uri: ``sqlite:///PATH`` or ``postgresql+psycopg://USER@HOST:PORT/DB``.
        sqlite_synchronous: SQLite ``synchronous`` pragma (``FULL`` or ``NORMAL``).
        project: the project every domain reads and writes (``_system`` is accepted
            too, to read the server-wide audit chain). Whether it exists is not
            checked here (that is I/O): see ``store.access.get_project``.

    The constructor does no I/O; :meth:`open` (or first use) connects and migrates.
    Stores bound to different projects may share one database; each domain filters
    every query by the project and writes it into every row.

    Raises:
        InvalidArgumentError: ``project`` is not a valid project name.
    """

    def __init__(
        self, uri: str, sqlite_synchronous: str = "NORMAL", project: str = DEFAULT_PROJECT
    ) -> None:
        self._project = check_project_name(project, allow_system=True)
        self.database = Database(uri, sqlite_synchronous=sqlite_synchronous)
        self._owns_database = True
        self._domains: dict[str, Any] = {}
        self._domains_lock = threading.Lock()

    def for_project(self, project: str) -> SqlStore:
        """This store's database and connections, bound to ``project`` (no I/O).

        Closing the returned store leaves the connections to this one.
        """
        other = SqlStore.__new__(SqlStore)
        other._project = check_project_name(project, allow_system=True)
        other.database = self.database
        other._owns_database = False
        other._domains = {}
        other._domains_lock = threading.Lock()
        return other

    def _domain(self, name: str) -> Any:
        found = self._domains.get(name)
        if found is not None:
            return found
        with self._domains_lock:
            if name not in self._domains:
                module, cls = _DOMAINS[name]
                implementation = getattr(importlib.import_module(module), cls)
                if name == "access":  # server-wide: not bound to the project
                    self._domains[name] = implementation(self.database)
                else:
                    self._domains[name] = implementation(self.database, self._project)
            return self._domains[name]

    @property
    def uri(self) -> str:
        return safe_uri(self.database.uri)

    @property
    def project(self) -> str:
        return self._project

    @property
    def access(self) -> AccessStore:
        store: AccessStore = self._domain("access")
        return store

    @property
    def tracking(self) -> TrackingStore:
        store: TrackingStore = self._domain("tracking")
        return store

    @property
    def lineage(self) -> LineageStore:
        store: LineageStore = self._domain("lineage")
        return store

    @property
    def datasets(self) -> DatasetStore:
        store: DatasetStore = self._domain("datasets")
        return store

    @property
    def registry(self) -> RegistryStore:
        store: RegistryStore = self._domain("registry")
        return store

    @property
    def governance(self) -> GovernanceStore:
        store: GovernanceStore = self._domain("governance")
        return store

    @property
    def pipelines(self) -> PipelineStore:
        store: PipelineStore = self._domain("pipelines")
        return store

    @property
    def endpoints(self) -> EndpointStore:
        store: EndpointStore = self._domain("endpoints")
        return store

    @property
    def monitors(self) -> MonitorStore:
        store: MonitorStore = self._domain("monitors")
        return store

    @property
    def features(self) -> FeatureStore:
        store: FeatureStore = self._domain("features")
        return store

    def open(self) -> None:
        self.database.open()

    def upgrade_schema(self) -> list[str]:
        """Apply pending migrations (opening does, serialised across processes).

        Returns:
            The Alembic revision heads now in force, sorted.
        """
        self.open()
        from alembic.runtime.migration import MigrationContext

        with self.database.engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


# domain -> (module, class) of its SQL implementation
_DOMAINS = {
    "tracking": ("keel.store._sql._tracking", "SqlTrackingStore"),
    "lineage": ("keel.store._sql._lineage", "SqlLineageStore"),
    "datasets": ("keel.store._sql._datasets", "SqlDatasetStore"),
    "registry": ("keel.store._sql._registry", "SqlRegistryStore"),
    "governance": ("keel.store._sql._audit", "SqlGovernanceStore"),
    "pipelines": ("keel.store._sql._pipelines", "SqlPipelineStore"),
    "access": ("keel.store._sql._access", "SqlAccessStore"),
    "endpoints": ("keel.store._sql._endpoints", "SqlEndpointStore"),
    "monitors": ("keel.store._sql._monitors", "SqlMonitorStore"),
    "features": ("keel.store._sql._features", "SqlFeatureStore"),
}
