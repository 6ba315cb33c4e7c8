"""What a route knows about its request once access was granted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from keel.server._auth import Principal

if TYPE_CHECKING:
    from keel.artifacts import ArtifactStore
    from keel.server._hub import StoreHub
    from keel.store import Store

__all__ = ["RequestState", "request_state"]


@dataclass(frozen=True, slots=True)
class RequestState:
    """The caller, and for project routes the project, the caller's role and its store.

    Attributes:
        principal: the authenticated user.
        hub: the server's stores.
        project: the project of a ``/projects/{project}`` route (``None`` otherwise).
        role: the caller's effective role there (``None`` outside a project).
    """

    principal: Principal
    hub: StoreHub
    project: str | None = None
    role: str | None = None

    @property
    def store(self) -> Store:
        """The metadata store bound to the route's project."""
        if self.project is None:
            raise RuntimeError("this route is not bound to a project")  # a routing bug
        return self.hub.store(self.project)

    @property
    def artifacts(self) -> ArtifactStore:
        """The server's artifact store."""
        return self.hub.artifacts

    def project_has_object(self, sha256: str) -> bool:
        """Whether the route's project may read the bytes with this sha256."""
        if self.project is None:
            return False
        return self.hub.access.project_has_object(self.project, sha256)


def request_state(request: Request) -> RequestState:
    """The state the access guard left on ``request``."""
    state: RequestState = request.state.keel
    return state
