"""Users, API tokens and projects: the services behind ``keel users|tokens|projects``.

They work the same on a store the caller opened directly (an administrator on the
server's machine, e.g. to create the first administrator) and on a keel server's REST
store, where the server checks that the caller may do it.
"""

from __future__ import annotations

from keel.context import Context, current_context
from keel.errors import ConflictError, NotFoundError
from keel.store import Project, TokenInfo, User

__all__ = [
    "bootstrap_admin",
    "create_project",
    "create_token",
    "create_user",
    "list_projects",
    "list_tokens",
    "list_users",
    "revoke_token",
    "set_user_disabled",
]

#: the name of the administrator ``keel server --init-admin`` creates
FIRST_ADMIN = "admin"


def bootstrap_admin(context: Context | None = None) -> tuple[str, str]:
    """Create the first server administrator and a token for it.

    Only while no administrator exists: the token is printed once, so a second call
    must not mint another one silently.

    Returns:
        ``(user, secret)``: the administrator's name and its API token.

    Raises:
        ConflictError: a server administrator exists already.
    """
    ctx = context or current_context()
    access = ctx.store.access
    admins = [u.name for u in access.list_users() if u.admin and not u.disabled]
    if admins:
        raise ConflictError(
            f"a server administrator exists already ({', '.join(admins)}); an administrator "
            "creates tokens with: keel tokens create --user NAME"
        )
    actor = "keel server --init-admin"
    try:
        existing = access.get_user(FIRST_ADMIN)
    except NotFoundError:
        access.create_user(FIRST_ADMIN, admin=True, actor=actor)
    else:
        if not existing.admin:
            raise ConflictError(
                f"user {FIRST_ADMIN!r} exists and is not an administrator; create the first "
                "administrator with: keel users create NAME --admin (where the store is)"
            )
        access.set_user_disabled(FIRST_ADMIN, False, actor=actor)  # it was disabled
    _, secret = access.create_token(FIRST_ADMIN, "init-admin", None, actor=actor)
    return FIRST_ADMIN, secret


def create_user(name: str, *, admin: bool = False, context: Context | None = None) -> User:
    """Create a user (a server administrator when ``admin``)."""
    ctx = context or current_context()
    return ctx.store.access.create_user(name, admin, actor=ctx.actor)


def list_users(context: Context | None = None) -> list[User]:
    """Every user."""
    return (context or current_context()).store.access.list_users()


def set_user_disabled(name: str, disabled: bool, *, context: Context | None = None) -> User:
    """Disable a user (their tokens stop working at once), or enable them again."""
    ctx = context or current_context()
    return ctx.store.access.set_user_disabled(name, disabled, actor=ctx.actor)


def create_token(
    name: str = "default",
    *,
    user: str | None = None,
    expires_at: int | None = None,
    context: Context | None = None,
) -> tuple[TokenInfo, str]:
    """Create an API token (for yourself unless ``user`` is named); returns it and its secret.

    The secret is shown once: keel keeps only its hash.
    """
    ctx = context or current_context()
    return ctx.store.access.create_token(user or ctx.actor, name, expires_at, actor=ctx.actor)


def list_tokens(user: str | None = None, *, context: Context | None = None) -> list[TokenInfo]:
    """Tokens (never their secrets): yours, or a named user's."""
    ctx = context or current_context()
    return ctx.store.access.list_tokens(user)


def revoke_token(token_id: str, *, context: Context | None = None) -> TokenInfo:
    """Revoke a token: it stops working at once."""
    ctx = context or current_context()
    return ctx.store.access.revoke_token(token_id, actor=ctx.actor)


def create_project(name: str, description: str = "", *, context: Context | None = None) -> Project:
    """Create a project (server administrators)."""
    ctx = context or current_context()
    return ctx.store.access.create_project(name, description, actor=ctx.actor)


def list_projects(context: Context | None = None) -> list[Project]:
    """The projects you can see."""
    return (context or current_context()).store.access.list_projects()
