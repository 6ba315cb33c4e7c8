"""Users, tokens and projects on a keel server (its ``/api/v1`` routes), as an AccessStore.

The server decides what each caller may do: a server administrator's token manages
users, projects and anyone's tokens; any user manages their own tokens. Which bytes a
project holds is recorded by the server itself when they are uploaded, so a client can
ask (``project_has_object``) but not declare (``add_project_objects``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from keel._transport import Transport
from keel.errors import AuthenticationError, NotFoundError, error_for_code
from keel.store._access import AccessStore, Identity, Project, TokenInfo, User
from keel.store._audit import ROLES
from keel.store._wire import from_wire

__all__ = ["RestAccessStore"]


def _q(value: str) -> str:
    return quote(value, safe="")


class RestAccessStore(AccessStore):
    """The server-wide access routes of a keel server."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _get(self, path: str, **params: Any) -> Any:
        return self._transport.get_json(f"/api/v1{path}", params=params)

    def _post(self, path: str, body: Any = None) -> Any:
        return self._transport.request("POST", f"/api/v1{path}", json=body).json()

    # -- projects -------------------------------------------------------------------

    def create_project(self, name: str, description: str = "", *, actor: str) -> Project:
        result: Project = from_wire(
            Project, self._post("/projects", {"name": name, "description": description})
        )
        return result

    def get_project(self, name: str) -> Project:
        result: Project = from_wire(Project, self._get(f"/projects/{_q(name)}"))
        return result

    def list_projects(self) -> list[Project]:
        result: list[Project] = from_wire(list[Project], self._get("/projects"))
        return result

    # -- users ----------------------------------------------------------------------

    def create_user(self, name: str, admin: bool = False, *, actor: str) -> User:
        result: User = from_wire(User, self._post("/users", {"name": name, "admin": admin}))
        return result

    def get_user(self, name: str) -> User:
        result: User = from_wire(User, self._get(f"/users/{_q(name)}"))
        return result

    def list_users(self) -> list[User]:
        result: list[User] = from_wire(list[User], self._get("/users"))
        return result

    def set_user_disabled(self, name: str, disabled: bool, *, actor: str) -> User:
        verb = "disable" if disabled else "enable"
        result: User = from_wire(User, self._post(f"/users/{_q(name)}/{verb}"))
        return result

    # -- tokens ---------------------------------------------------------------------

    def create_token(
        self, user: str, name: str, expires_at: int | None = None, *, actor: str
    ) -> tuple[TokenInfo, str]:
        answer = self._post("/tokens", {"user": user, "name": name, "expires_at": expires_at})
        return from_wire(TokenInfo, answer["token"]), str(answer["secret"])

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        params = {} if user is None else {"user": user}
        result: list[TokenInfo] = from_wire(list[TokenInfo], self._get("/tokens", **params))
        return result

    def revoke_token(self, token_id: str, *, actor: str) -> TokenInfo:
        answer = self._transport.request("DELETE", f"/api/v1/tokens/{_q(token_id)}").json()
        result: TokenInfo = from_wire(TokenInfo, answer)
        return result

    def authenticate(self, secret: str) -> Identity | None:
        """Who the server says ``secret`` is (``None`` when it refuses the token)."""
        probe = Transport(self._transport.base_url, self._transport.project, secret)
        try:
            me = probe.get_json("/api/v1/whoami")
        except AuthenticationError:
            return None
        finally:
            probe.close()
        return Identity(str(me["user"]), bool(me["admin"]), str(me["token_id"]))

    # -- roles and objects -----------------------------------------------------------

    def role_in(self, user: str, project: str) -> str | None:
        me = self._get("/whoami")
        if user == me["user"]:
            role: str | None = me["projects"].get(project)
            return role
        try:
            grants = self._get(f"/projects/{_q(project)}/members")
        except NotFoundError:
            return None
        held = [g["role"] for g in grants if g["user"] == user and g["role"] in ROLES]
        return max(held, key=ROLES.index) if held else None

    def project_has_object(self, project: str, sha256: str) -> bool:
        try:
            self._transport.request(
                "HEAD", f"/api/v1/projects/{_q(project)}/artifacts/{_q(sha256)}"
            )
        except NotFoundError:
            return False
        return True

    def add_project_objects(self, project: str, shas: Iterable[str]) -> None:
        raise error_for_code("PERMISSION_DENIED")(
            "a keel server records which bytes a project holds when they are uploaded "
            "(PUT .../artifacts/SHA256); clients cannot declare it"
        )
