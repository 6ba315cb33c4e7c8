"""The server's stores: one database, one artifact root, a Store view per project."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from keel.config import Settings
from keel.server._auth import ACCESS_CACHE_SECONDS, AccessCache
from keel.server._paging import Snapshots

if TYPE_CHECKING:
    from keel.artifacts import ArtifactStore
    from keel.store import AccessStore, Store

__all__ = ["StoreHub"]


class StoreHub:
    """Opens the server's metadata store and artifact store once, in the app's lifespan.

    A :class:`~keel.store.Store` is bound to one project; the hub hands each request the
    view of its project, all of them sharing one connection pool.

    Args:
        settings: where the server keeps things (``store_uri``, ``artifact_root``).
        access_cache_seconds: how long token checks and roles are reused
            (:class:`~keel.server._auth.AccessCache`; 0: never).
    """

    def __init__(
        self, settings: Settings, access_cache_seconds: float = ACCESS_CACHE_SECONDS
    ) -> None:
        self.settings = settings
        self.access_cache = AccessCache(access_cache_seconds)
        #: the lists of paged listings, between their pages (one query per listing)
        self.snapshots = Snapshots()
        self._root: Any = None
        self._artifacts: ArtifactStore | None = None
        self._projects: dict[str, Store] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        """Connect, migrate, and check the artifact root. Idempotent."""
        from keel.store import open_store

        with self._lock:
            if self._root is None:
                root = open_store(
                    self.settings.resolved_store_uri(), project="default", settings=self.settings
                )
                root.open()
                self._root = root
                self._projects["default"] = root

    def close(self) -> None:
        """Release connections. Idempotent."""
        with self._lock:
            if self._root is not None:
                self._root.close()
            self._root = None
            self._projects.clear()

    @property
    def root(self) -> Store:
        """The store bound to project ``default`` (opened by :meth:`open`)."""
        if self._root is None:
            self.open()
        root: Store = self._root
        return root

    def store(self, project: str) -> Store:
        """The store bound to ``project`` (sharing the root's connections)."""
        found = self._projects.get(project)
        if found is None:
            with self._lock:
                found = self._projects.get(project)
                if found is None:
                    found = self._projects[project] = self.root.for_project(project)
        return found

    def access_changed(self) -> None:
        """A token, user or role changed through this process: check them afresh."""
        self.access_cache.clear()

    @property
    def access(self) -> AccessStore:
        """Users, tokens, projects and which bytes each project holds."""
        return self.root.access

    @property
    def artifacts(self) -> ArtifactStore:
        """The server's artifact store."""
        if self._artifacts is None:
            from keel.artifacts import open_artifacts

            self._artifacts = open_artifacts(self.settings.resolved_artifact_root(), self.settings)
        return self._artifacts
