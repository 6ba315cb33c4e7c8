"""``keel audit list|verify`` and ``keel roles grant|revoke|list``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

__all__ = ["audit_app", "roles_app"]

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
roles_app = typer.Typer(
    help="User roles (admin may force promotions and manage roles).", no_args_is_help=True
)


def _client() -> Any:
    from keel.tracking import Client

    return Client()


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _brief(value: Any) -> str:
    if value is None:
        return "-"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


@audit_app.command("list")
def audit_list(
    object_id: Annotated[
        str | None,
        typer.Option(
            "--object", "-o", help="An object and its parts (iris matches iris/3, iris@champion)."
        ),
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this user's changes.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="2026-11-29, 2026-11-29T10:00, or 30m, 2h, 7d ago."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="The newest N events.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List audit events, oldest first."""
    from rich.markup import escape
    from rich.table import Table

    from keel.cli._render import console
    from keel.governance import list_events

    events = list_events(object_id, actor, since, limit, client=_client())
    if json_out:
        typer.echo(json.dumps([e.to_dict() for e in events], indent=2, default=str))
        return
    table = Table(title=f"Audit events ({len(events)})")
    for col in ("#", "time", "actor", "action", "object", "before", "after", "reason", "hash"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(
            str(e.seq),
            _time(e.time),
            escape(e.actor),
            e.action,
            escape(e.object_id),
            escape(_brief(e.before)),
            escape(_brief(e.after)),
            escape(e.reason or ""),
            e.hash[:12],
        )
    console().print(table)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; report the first broken link (exit 1 when broken)."""

    from keel.cli._render import console
    from keel.governance import verify

    result = verify(client=_client())
    if result.ok:
        console().print(f"[green]audit chain intact[/]: {result.events} event(s) verified")
        return
    from keel.governance import AuditChainBrokenError

    raise AuditChainBrokenError(
        f"audit chain BROKEN at event #{result.broken_at}: {result.problem} "
        f"({result.events} event(s) read)"
    )


@roles_app.command("grant")
def roles_grant(
    user: Annotated[str, typer.Argument(help="User name (as in KEEL_ACTOR).")],
    role: Annotated[str, typer.Argument(help="Role: admin.")] = "admin",
) -> None:
    """Grant a role (admins only; the very first admin may be granted by anyone)."""
    from keel.cli._render import console
    from keel.governance import grant_role

    grant = grant_role(user, role, client=_client())
    console().print(f"{grant.user} holds {grant.role} (granted by {grant.granted_by})")


@roles_app.command("revoke")
def roles_revoke(
    user: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="Role: admin.")] = "admin",
) -> None:
    """Revoke a role (admins only)."""
    from keel.cli._render import console
    from keel.governance import revoke_role

    revoke_role(user, role, client=_client())
    console().print(f"{user} no longer holds {role}")


@roles_app.command("list")
def roles_list() -> None:
    """List role grants."""
    from rich.table import Table

    from keel.cli._render import console
    from keel.governance import list_roles

    table = Table(title="Roles")
    for col in ("user", "role", "granted by", "granted"):
        table.add_column(col)
    for g in list_roles(client=_client()):
        table.add_row(g.user, g.role, g.granted_by, _time(g.granted_at))
    console().print(table)
