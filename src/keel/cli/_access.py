"""``keel users``, ``keel tokens`` and ``keel projects``: who may use a keel server.

Against a server (``keel login`` or ``KEEL_STORE_URI=http://...``) the server decides
what the caller may do. Run where the store is (``KEEL_STORE_URI`` naming the database),
they act on it directly: that is how the first administrator is made.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

__all__ = ["projects_app", "tokens_app", "users_app"]

users_app = typer.Typer(help="Users of a keel server.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (shown once, kept only as a hash).", no_args_is_help=True)
projects_app = typer.Typer(help="Projects: namespaces and units of access.", no_args_is_help=True)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print_secret(user: str, secret: str) -> None:
    typer.echo(
        f"API token for {user} (shown once: keel keeps only its hash; store it safely):\n{secret}"
    )


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ - @).")],
    admin: Annotated[bool, typer.Option("--admin", help="A server administrator.")] = False,
    no_token: Annotated[
        bool, typer.Option("--no-token", help="Do not create a first API token.")
    ] = False,
) -> None:
    """Create a user, and a first API token for them (printed once)."""
    from keel.cli._render import console
    from keel.governance import create_token, create_user

    user = create_user(name, admin=admin)
    console().print(f"created user {user.name}{' (server administrator)' if user.admin else ''}")
    if not no_token:
        _, secret = create_token("first", user=user.name)
        _print_secret(user.name, secret)


@users_app.command("list")
def users_list() -> None:
    """List users."""
    from rich.table import Table

    from keel.cli._render import console
    from keel.governance import list_users

    table = Table(title="Users")
    for col in ("user", "administrator", "disabled", "created", "by"):
        table.add_column(col)
    for u in list_users():
        table.add_row(
            u.name,
            "yes" if u.admin else "",
            "yes" if u.disabled else "",
            _when(u.created_at),
            u.created_by,
        )
    console().print(table)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Disable a user: every token of theirs stops working at once."""
    from keel.cli._render import console
    from keel.governance import set_user_disabled

    set_user_disabled(name, True)
    console().print(f"{name} is disabled; their tokens no longer work")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Enable a disabled user again."""
    from keel.cli._render import console
    from keel.governance import set_user_disabled

    set_user_disabled(name, False)
    console().print(f"{name} is enabled")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "default",
    user: Annotated[
        str | None, typer.Option("--user", help="Another user's (server administrators).")
    ] = None,
    expires_days: Annotated[
        float | None,
        typer.Option("--expires-days", help="Stop working after this many days.", min=0.001),
    ] = None,
) -> None:
    """Create an API token; its secret is printed once."""
    from keel._clock import now_ms
    from keel.governance import create_token

    expires = None if expires_days is None else now_ms() + int(expires_days * 86_400_000)
    info, secret = create_token(name, user=user, expires_at=expires)
    _print_secret(info.user, secret)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[
        str | None, typer.Option("--user", help="Another user's (server administrators).")
    ] = None,
) -> None:
    """List tokens (never their secrets)."""
    from rich.table import Table

    from keel._clock import now_ms
    from keel.cli._render import console
    from keel.governance import list_tokens

    table = Table(title="API tokens")
    for col in ("id", "user", "name", "created", "expires", "last used", "state"):
        table.add_column(col)
    now = now_ms()
    for t in list_tokens(user):
        state = "revoked" if t.revoked_at else ("active" if t.is_active(now) else "expired")
        table.add_row(
            t.id,
            t.user,
            t.name,
            _when(t.created_at),
            _when(t.expires_at),
            _when(t.last_used_at),
            state,
        )
    console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token: it stops working at once."""
    from keel.cli._render import console
    from keel.governance import revoke_token

    info = revoke_token(token_id)
    console().print(f"token {info.id} ({info.user}, {info.name}) is revoked")


@projects_app.command("create")
def projects_create(
    name: Annotated[str, typer.Argument(help="lowercase letters, digits, '-' and '_'")],
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
) -> None:
    """Create a project (server administrators)."""
    from keel.cli._render import console
    from keel.governance import create_project

    project = create_project(name, description)
    console().print(
        f"created project {project.name}; grant roles in it with: "
        f"keel --project {project.name} roles grant USER ROLE"
    )


@projects_app.command("list")
def projects_list() -> None:
    """List the projects you can see."""
    from rich.table import Table

    from keel.cli._render import console
    from keel.governance import list_projects

    table = Table(title="Projects")
    for col in ("project", "description", "created", "by"):
        table.add_column(col)
    for p in list_projects():
        table.add_row(p.name, p.description, _when(p.created_at), p.created_by)
    console().print(table)


@projects_app.command("members")
def projects_members(
    name: Annotated[
        str | None, typer.Argument(help="The project (default: the current one).")
    ] = None,
) -> None:
    """List who holds which role in a project."""
    from rich.table import Table

    from keel.cli._render import console
    from keel.context import Context, current_context
    from keel.governance import list_roles

    ctx = current_context()
    if name is not None and name != ctx.project:
        ctx = Context(ctx.settings, project=name)
    table = Table(title=f"Members of {ctx.project}")
    for col in ("user", "role", "granted by", "granted"):
        table.add_column(col)
    for g in list_roles(context=ctx):
        table.add_row(g.user, g.role, g.granted_by, _when(g.granted_at))
    console().print(table)
