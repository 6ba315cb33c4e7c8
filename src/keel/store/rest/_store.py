"""``RestStore``: the Store interface served by ``keel server`` over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keel._redact import safe_uri
from keel._transport import RetryPolicy, Transport
from keel.errors import InvalidArgumentError
from keel.store._access import check_project_name
from keel.store._gateway import SERVICES, ServiceGateway
from keel.store._interfaces import Store

if TYPE_CHECKING:
    from keel.config import Settings
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

__all__ = ["RestStore"]

# service -> (verb, path under the project prefix; {argument} placeholders)
_SERVICE_ROUTES: dict[str, tuple[str, str]] = {
    "promote": ("POST", "/services/promote"),
    "rollback": ("POST", "/services/rollback"),
    "delete_alias": ("POST", "/services/delete-alias"),
    "whoami": ("GET", "/services/whoami"),
}


class RestStore(Store, ServiceGateway):
    """Metadata kept by a keel server, reached over HTTP(S).

    Args:
        uri: the server's URL, ``http://host:port`` or ``https://host``.
        project: the project every call goes to.
        token: the API token (default: the settings' ``token``, from ``KEEL_TOKEN`` or
            ``keel login``).
        settings: the settings in force.
        retry: how failed calls are tried again.

    The constructor does no I/O; :meth:`open` checks that the server answers and
    accepts the token.

    Example::

        >>> store = RestStore("http://127.0.0.1:8080", project="default", token=token)
        >>> store.open()
        >>> store.tracking.list_experiments()
    """

    def __init__(
        self,
        uri: str,
        project: str = "default",
        token: str | None = None,
        *,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(
                f"store URI {safe_uri(uri)!r} is not a server URL; use http://HOST:PORT"
            )
        self._uri = uri.rstrip("/")
        self._project = project
        if token is None and settings is not None:
            token = settings.token
        self.transport = Transport(self._uri, project, token, retry=retry)
        self._domains: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return safe_uri(self._uri)

    @property
    def project(self) -> str:
        """The project this store reads and writes."""
        return self._project

    @property
    def access(self) -> AccessStore:
        """Users, tokens and projects, through the server's ``/api/v1`` routes."""
        store: AccessStore = self._domain("Access")
        return store

    def for_project(self, project: str) -> RestStore:
        """The same server, token and retry policy, bound to another project."""
        check_project_name(project)
        other = RestStore(self._uri, project, self.transport.token, retry=self.transport.retry)
        return other

    def _domain(self, name: str) -> Any:
        found = self._domains.get(name)
        if found is None:
            with self._lock:
                found = self._domains.get(name)
                if found is None:
                    from keel.store.rest import _access, _domains, _features

                    module = {"Access": _access, "Feature": _features}.get(name, _domains)
                    cls = getattr(module, f"Rest{name}Store")
                    found = self._domains[name] = cls(self.transport)
        return found

    @property
    def tracking(self) -> TrackingStore:
        store: TrackingStore = self._domain("Tracking")
        return store

    @property
    def datasets(self) -> DatasetStore:
        store: DatasetStore = self._domain("Dataset")
        return store

    @property
    def lineage(self) -> LineageStore:
        store: LineageStore = self._domain("Lineage")
        return store

    @property
    def registry(self) -> RegistryStore:
        store: RegistryStore = self._domain("Registry")
        return store

    @property
    def governance(self) -> GovernanceStore:
        store: GovernanceStore = self._domain("Governance")
        return store

    @property
    def pipelines(self) -> PipelineStore:
        store: PipelineStore = self._domain("Pipeline")
        return store

    @property
    def endpoints(self) -> EndpointStore:
        store: EndpointStore = self._domain("Endpoint")
        return store

    @property
    def monitors(self) -> MonitorStore:
        store: MonitorStore = self._domain("Monitor")
        return store

    @property
    def features(self) -> FeatureStore:
        store: FeatureStore = self._domain("Feature")
        return store

    def open(self) -> None:
        """Check that the server answers, the token is accepted and the project exists."""
        self.call_service("whoami", {})

    def close(self) -> None:
        self.transport.close()

    def call_service(self, name: str, arguments: Mapping[str, Any]) -> Any:
        if name not in SERVICES:
            raise InvalidArgumentError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
        verb, path = _SERVICE_ROUTES[name]
        path = self.transport.project_prefix + path
        if verb == "GET":
            return self.transport.get_json(path, params=dict(arguments))
        return self.transport.request(verb, path, json=dict(arguments)).json()
