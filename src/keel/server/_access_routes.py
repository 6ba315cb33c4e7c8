"""Server-wide routes: who am I, projects, users and API tokens.

Token secrets appear exactly once, in the answer to their creation; the server keeps
only their hash. Users manage their own tokens; server administrators manage users,
projects and anyone's tokens. Project roles are granted on the project's own routes
(``/api/v1/projects/{project}/roles``), by that project's admins.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from keel.errors import error_for_code
from keel.server._context import request_state
from keel.server._paging import MAX_PAGE_SIZE, Page, page_of
from keel.store import Project, RoleGrant, TokenInfo, User, to_wire

__all__ = ["access_router"]


def _json(value: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(to_wire(value), ensure_ascii=False),
        status_code=status,
        media_type="application/json",
    )


class NewProject(pydantic.BaseModel):
    """A project to create."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(description="lowercase letters, digits, '-' and '_'")
    description: str = ""


class NewUser(pydantic.BaseModel):
    """A user to create (a token is made for them separately)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    admin: bool = pydantic.Field(False, description="a server administrator")


class NewToken(pydantic.BaseModel):
    """An API token to create."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field("default", max_length=128, description="what the token is for")
    user: str | None = pydantic.Field(
        None, description="whose token (server administrators only; default: yourself)"
    )
    expires_at: int | None = pydantic.Field(
        None, gt=0, description="when it stops working, in ms since the epoch (None: never)"
    )


class WhoAmI(pydantic.BaseModel):
    """The authenticated user."""

    user: str
    admin: bool = pydantic.Field(description="a server administrator")
    token_id: str | None
    projects: dict[str, str] = pydantic.Field(description="project -> your role there")


class NewTokenSecret(pydantic.BaseModel):
    """A token just created, and its secret: shown this once, kept only as a hash."""

    token: TokenInfo
    secret: str


def _page(request: Request, items: list[Any], cursor: str | None, limit: int | None) -> Response:
    # the query is what selects the rows: not where a page starts or how long it is
    query = {k: v for k, v in request.query_params.items() if k not in ("cursor", "limit")}
    page, following = page_of(items, {"path": request.url.path, **query}, cursor, limit)
    return _json({"items": list(page), "next_cursor": following})


Cursor = Annotated[str | None, Query(description="the next_cursor of the previous page")]
Limit = Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]


def _denied(message: str) -> Exception:
    return error_for_code("PERMISSION_DENIED")(message)


def access_router() -> APIRouter:
    """``/api/v1``: whoami, projects, users, tokens."""
    router = APIRouter(prefix="/api/v1", tags=["access"])

    @router.get("/whoami", name="access.whoami", response_model=WhoAmI)
    def whoami(request: Request) -> Response:
        """The authenticated user, whether they administer the server, and their projects."""
        state = request_state(request)
        access = state.hub.access
        projects = {
            p.name: (
                "admin" if state.principal.admin else access.role_in(state.principal.user, p.name)
            )
            for p in access.list_projects()
        }
        return _json(
            {
                "user": state.principal.user,
                "admin": state.principal.admin,
                "token_id": state.principal.token_id,
                "projects": {k: v for k, v in projects.items() if v},
            }
        )

    @router.get("/projects", name="access.list_projects", response_model=Page[Project])
    def list_projects(request: Request, cursor: Cursor = None, limit: Limit = None) -> Response:
        """The projects you are a member of (every project for server administrators)."""
        state = request_state(request)
        access = state.hub.access
        visible = [
            p
            for p in access.list_projects()
            if state.principal.admin or access.role_in(state.principal.user, p.name)
        ]
        return _page(request, visible, cursor, limit)

    @router.post("/projects", status_code=201, name="access.create_project", response_model=Project)
    def create_project(request: Request, body: NewProject) -> Response:
        """Create a project (server administrators)."""
        state = request_state(request)
        project = state.hub.access.create_project(
            body.name, body.description, actor=state.principal.user
        )
        return _json(project, 201)

    @router.get("/projects/{project}", name="access.get_project", response_model=Project)
    def get_project(request: Request, project: str) -> Response:
        """One project."""
        return _json(request_state(request).hub.access.get_project(project))

    @router.get(
        "/projects/{project}/members", name="access.members", response_model=Page[RoleGrant]
    )
    def members(
        request: Request, project: str, cursor: Cursor = None, limit: Limit = None
    ) -> Response:
        """Every role granted in the project."""
        return _page(request, request_state(request).store.governance.list_roles(), cursor, limit)

    @router.get("/users", name="access.list_users", response_model=Page[User])
    def list_users(request: Request, cursor: Cursor = None, limit: Limit = None) -> Response:
        """Every user."""
        return _page(request, request_state(request).hub.access.list_users(), cursor, limit)

    @router.post("/users", status_code=201, name="access.create_user", response_model=User)
    def create_user(request: Request, body: NewUser) -> Response:
        """Create a user."""
        state = request_state(request)
        user = state.hub.access.create_user(body.name, admin=body.admin, actor=state.principal.user)
        return _json(user, 201)

    @router.get("/users/{user}", name="access.get_user", response_model=User)
    def get_user(request: Request, user: str) -> Response:
        """One user."""
        return _json(request_state(request).hub.access.get_user(user))

    @router.post("/users/{user}/disable", name="access.disable_user", response_model=User)
    def disable_user(request: Request, user: str) -> Response:
        """Disable a user: their tokens stop working at once."""
        state = request_state(request)
        if user == state.principal.user:
            raise error_for_code("CONFLICT")(
                "you cannot disable yourself; ask another administrator"
            )
        disabled = state.hub.access.set_user_disabled(user, True, actor=state.principal.user)
        state.hub.access_changed()
        return _json(disabled)

    @router.post("/users/{user}/enable", name="access.enable_user", response_model=User)
    def enable_user(request: Request, user: str) -> Response:
        """Enable a disabled user again."""
        state = request_state(request)
        return _json(state.hub.access.set_user_disabled(user, False, actor=state.principal.user))

    @router.get("/tokens", name="access.list_tokens", response_model=Page[TokenInfo])
    def list_tokens(
        request: Request,
        user: str | None = Query(None, description="another user's (admins)"),
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Response:
        """Your tokens (never their secrets); administrators may ask for anyone's."""
        state = request_state(request)
        whose = user or state.principal.user
        if whose != state.principal.user and not state.principal.admin:
            raise _denied("only server administrators list other users' tokens")
        return _page(request, state.hub.access.list_tokens(whose), cursor, limit)

    @router.post(
        "/tokens", status_code=201, name="access.create_token", response_model=NewTokenSecret
    )
    def create_token(request: Request, body: NewToken) -> Response:
        """Create a token; its secret is in this answer and nowhere else, ever."""
        state = request_state(request)
        whose = body.user or state.principal.user
        if whose != state.principal.user and not state.principal.admin:
            raise _denied("only server administrators create tokens for other users")
        info, secret = state.hub.access.create_token(
            whose, body.name, body.expires_at, actor=state.principal.user
        )
        return _json({"token": info, "secret": secret}, 201)

    @router.delete("/tokens/{token_id}", name="access.revoke_token", response_model=TokenInfo)
    def revoke_token(request: Request, token_id: str) -> Response:
        """Revoke a token (yours; administrators: anyone's)."""
        state = request_state(request)
        access = state.hub.access
        owned = {t.id for t in access.list_tokens(state.principal.user)}
        if token_id not in owned and not state.principal.admin:
            raise error_for_code("NOT_FOUND")(f"you have no token {token_id!r}")
        revoked = access.revoke_token(token_id, actor=state.principal.user)
        state.hub.access_changed()
        return _json(revoked)

    return router
