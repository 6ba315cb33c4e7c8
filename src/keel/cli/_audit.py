"""``keel audit list|verify|head`` and ``keel roles grant|revoke|list``."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["audit_app", "roles_app"]

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
roles_app = typer.Typer(
    help="User roles (admin may force promotions and manage roles).", no_args_is_help=True
)


def _context() -> Context:
    from keel.context import current_context

    return current_context()


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

    events = list_events(object_id, actor, since, limit, context=_context())
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
def audit_verify(
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help="A head kept elsewhere (HASH:COUNT from `keel audit head`); it must still "
            "be in the chain.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the hash chain, replay it against the governed tables, check an anchor (exit 1 on any problem)."""
    from keel.cli._render import console
    from keel.governance import AuditChainBrokenError, verify

    result = verify(expect, context=_context())
    if json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        if not result.ok:
            raise typer.Exit(1)
        return
    if result.ok:
        out = console()
        out.print(
            f"[green]audit chain intact[/]: {result.events} event(s) verified", highlight=False
        )
        out.print(
            f"[green]state matches the chain[/]: {result.rows} governed row(s), each explained "
            "by its events",
            highlight=False,
        )
        if result.anchor is not None:
            out.print(f"[green]anchor found[/]: {result.anchor.message}", highlight=False)
        else:
            out.print(
                f"head {result.head.hash[:16]}...:{result.head.seq} (keep `keel audit head` "
                "elsewhere to detect events deleted from the end later)",
                highlight=False,
            )
        return
    from rich.markup import escape

    err = console(stderr=True)
    problems = result.problems
    for line in problems:
        err.print(f"[red]-[/] {escape(line)}", highlight=False)
    raise AuditChainBrokenError(
        f"audit verification FAILED: {len(problems)} problem(s), listed above"
        + ("" if result.chain.ok else "; the chain itself is broken")
    )


@audit_app.command("head")
def audit_head(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the chain's head as HASH:COUNT (after verifying its links): keep it elsewhere."""
    import sys

    from keel.governance import head

    current = head(context=_context())
    if json_out:
        typer.echo(
            json.dumps({"hash": current.hash, "events": current.seq, "anchor": str(current)})
        )
        return
    typer.echo(str(current))
    print(
        f"the audit chain has {current.seq} event(s); keep this head where the database's "
        f"writers cannot change it, and check later with: keel audit verify --expect {current}",
        file=sys.stderr,
    )


@roles_app.command("grant")
def roles_grant(
    user: Annotated[str, typer.Argument(help="User name (as in KEEL_ACTOR).")],
    role: Annotated[
        str, typer.Argument(help="Role: viewer, editor, maintainer or admin.")
    ] = "admin",
) -> None:
    """Grant a role (admins only; the very first admin may be granted by anyone)."""
    from keel.cli._render import console
    from keel.governance import grant_role

    grant = grant_role(user, role, context=_context())
    console().print(f"{grant.user} holds {grant.role} (granted by {grant.granted_by})")


@roles_app.command("revoke")
def roles_revoke(
    user: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str, typer.Argument(help="Role: viewer, editor, maintainer or admin.")
    ] = "admin",
) -> None:
    """Revoke a role (admins only)."""
    from keel.cli._render import console
    from keel.governance import revoke_role

    revoke_role(user, role, context=_context())
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
    for g in list_roles(context=_context()):
        table.add_row(g.user, g.role, g.granted_by, _time(g.granted_at))
    console().print(table)
