"""The access table: every route the app mounts, and the least role that may call it.

Access is denied by default. :func:`guard` runs before every API route: it looks the
route up in :data:`ROUTE_ROLES`; a route missing from the table is refused (403) for
everybody, so a route added without a rule is closed, not open. The requirements are

* ``public``: anyone (health, readiness, the API description);
* ``authenticated``: any valid token (``whoami``, one's own tokens);
* ``server_admin``: a server administrator (users, projects);
* ``viewer`` < ``editor`` < ``maintainer`` < ``admin``: that role, or a stronger one,
  in the project the path names; server administrators hold every role everywhere.

The store's own operations take their role from the operation table they are built
from, so the two cannot disagree.
"""

from __future__ import annotations

from fastapi import Request

from keel.errors import AuthenticationError, RateLimitedError, error_for_code
from keel.server._auth import FailedLogins, Principal
from keel.server._context import RequestState
from keel.server._hub import StoreHub
from keel.server._store_routes import store_route_roles
from keel.store.rest import ROLE_ORDER

__all__ = ["AUTHENTICATED", "PUBLIC", "ROUTE_ROLES", "SERVER_ADMIN", "AccessGuard"]

PUBLIC = "public"
AUTHENTICATED = "authenticated"
SERVER_ADMIN = "server_admin"

_P = "/api/v1/projects/{project}"

#: (verb, path template) -> what the caller needs
ROUTE_ROLES: dict[tuple[str, str], str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/api/v1/whoami"): AUTHENTICATED,
    ("GET", "/api/v1/projects"): AUTHENTICATED,
    ("POST", "/api/v1/projects"): SERVER_ADMIN,
    ("GET", _P): "viewer",
    ("GET", f"{_P}/members"): "viewer",
    ("GET", "/api/v1/users"): SERVER_ADMIN,
    ("POST", "/api/v1/users"): SERVER_ADMIN,
    ("GET", "/api/v1/users/{user}"): SERVER_ADMIN,
    ("POST", "/api/v1/users/{user}/disable"): SERVER_ADMIN,
    ("POST", "/api/v1/users/{user}/enable"): SERVER_ADMIN,
    ("GET", "/api/v1/tokens"): AUTHENTICATED,
    ("POST", "/api/v1/tokens"): AUTHENTICATED,
    ("DELETE", "/api/v1/tokens/{token_id}"): AUTHENTICATED,
    ("PUT", f"{_P}/artifacts/{{sha256}}"): "editor",
    ("GET", f"{_P}/artifacts/{{sha256}}"): "viewer",
    ("HEAD", f"{_P}/artifacts/{{sha256}}"): "viewer",
    ("GET", f"{_P}/services/whoami"): "viewer",
    ("POST", f"{_P}/services/promote"): "maintainer",
    ("POST", f"{_P}/services/rollback"): "maintainer",
    ("POST", f"{_P}/services/delete-alias"): "admin",
    **store_route_roles(),
}


def role_at_least(have: str | None, need: str) -> bool:
    """Whether role ``have`` is ``need`` or stronger."""
    return have in ROLE_ORDER and ROLE_ORDER.index(have) >= ROLE_ORDER.index(need)


class AccessGuard:
    """The dependency every API route runs first: who is calling, and may they.

    Args:
        hub: the server's stores (tokens and roles live there).
        auth: ``False`` only for a server on a loopback address with authentication off:
            every caller then acts as ``local_user``, a server administrator.
        local_user: the user name recorded when authentication is off.
        failed_logins: the brake on repeated bad tokens.
    """

    def __init__(
        self,
        hub: StoreHub,
        *,
        auth: bool = True,
        local_user: str = "local",
        failed_logins: FailedLogins | None = None,
    ) -> None:
        self.hub = hub
        self.auth = auth
        self.local_user = local_user
        self.failed_logins = failed_logins or FailedLogins()

    def __call__(self, request: Request) -> None:
        route = request.scope.get("route")
        template = getattr(route, "path", None)
        need = ROUTE_ROLES.get((request.method, template or ""))
        if need is None:
            raise error_for_code("PERMISSION_DENIED")(
                f"{request.method} {template} has no access rule, so it is refused to everyone "
                "(the server's access table must list every route)"
            )
        if need == PUBLIC:
            return
        principal = self.authenticate(request)
        state = RequestState(principal, self.hub)
        if need == SERVER_ADMIN and not principal.admin:
            raise error_for_code("PERMISSION_DENIED")(
                f"this needs a server administrator; {principal.user!r} is not one"
            )
        if need in ROLE_ORDER:
            project = request.path_params.get("project", "")
            role = self.role_in(principal, project)
            if not role_at_least(role, need):
                held = f"holds {role!r}" if role else "is not a member"
                raise error_for_code("PERMISSION_DENIED")(
                    f"this needs the {need} role in project {project!r}; {principal.user!r} "
                    f"{held} (a project admin grants roles: keel roles grant USER ROLE)"
                )
            state = RequestState(principal, self.hub, project, role)
        request.state.keel = state

    def role_in(self, principal: Principal, project: str) -> str | None:
        """The principal's role in ``project``; server admins learn if it does not exist."""
        cache = self.hub.access_cache
        known, role = cache.role(principal.user, project)
        if known:
            return role
        if principal.admin:
            self.hub.access.get_project(project)  # NotFoundError names the projects
            role = "admin"
        else:
            role = self.hub.access.role_in(principal.user, project)
        cache.remember_role(principal.user, project, role)
        return role

    def authenticate(self, request: Request) -> Principal:
        """The caller of ``request``.

        Raises:
            AuthenticationError: no token, a malformed one, or one that is unknown,
                expired, revoked or whose user is disabled (401).
            RateLimitedError: this client failed too often lately (429).
        """
        if not self.auth:
            return Principal(self.local_user, admin=True)
        client = request.client.host if request.client else "unknown"
        wait = self.failed_logins.retry_after(client)
        if wait is not None:
            raise RateLimitedError(
                f"too many failed logins from {client}; try again in {wait:.0f} s",
                retry_after=wait,
            )
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if not header:
            raise AuthenticationError(
                "this server needs an API token: send 'Authorization: Bearer keel_...' "
                "(keel login URL, or KEEL_TOKEN)"
            )
        identity = None
        secret = secret.strip()
        if scheme.lower() == "bearer" and secret:
            cache = self.hub.access_cache
            identity = cache.identity(secret)
            if identity is None:
                identity = self.hub.access.authenticate(secret)
                if identity is not None:
                    cache.remember_identity(secret, identity)
        if identity is None:
            self.failed_logins.failed(client)
            raise AuthenticationError(
                "the API token is not valid (malformed, unknown, expired or revoked, or its "
                "user is disabled); create a new one with: keel tokens create"
            )
        return Principal(identity.user, admin=identity.admin, token_id=identity.token_id)
