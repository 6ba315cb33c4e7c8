"""A minimal role model: ``admin`` may force promotions, delete aliases and manage roles.

Who is acting comes from ``Settings.resolved_actor()`` (``KEEL_ACTOR`` or the OS user).
Bootstrapping: while nobody holds ``admin``, the first grant of ``admin`` is allowed
to anyone (it is audited like every grant); after that only admins grant or revoke.
"""

from __future__ import annotations

from keel.context import Context, current_context
from keel.errors import ConflictError, KeelError
from keel.store import AuditEvent, RoleGrant

__all__ = [
    "PermissionDeniedError",
    "grant_role",
    "is_admin",
    "list_roles",
    "require_admin",
    "revoke_role",
]


class PermissionDeniedError(KeelError):
    """The acting user lacks the role the operation needs."""

    code = "PERMISSION_DENIED"
    http_status = 403


def is_admin(user: str, *, context: Context | None = None) -> bool:
    """Whether ``user`` holds the ``admin`` role.

    Args:
        user: the user name.
        context: where (:func:`keel.context.current_context` by default).
    """
    store = (context or current_context()).store
    return any(g.role == "admin" for g in store.governance.list_roles(user))


def _audited_admins(ctx: Context) -> dict[str, AuditEvent]:
    """Who holds ``admin`` according to the audit chain: user -> the granting event."""
    events = ctx.store.governance.list_events(object_type="role", limit=100_000)
    holders: dict[str, AuditEvent] = {}
    for event in events:
        user, _, role = event.object_id.rpartition(":")
        if role != "admin":
            continue
        if event.action == "role.grant":
            holders[user] = event
        elif event.action == "role.revoke":
            holders.pop(user, None)
    return holders


def require_admin(action: str, *, context: Context | None = None) -> str:
    """Return the acting user if they are an admin, else raise ``PermissionDeniedError``.

    The grant must also be in the audit chain: a role row written behind keel's back
    gives no power (``AuditMismatchError``).

    Args:
        action: what needs the role, for the message (``"forcing a promotion of iris/2"``).
        context: whose actor and store (:func:`keel.context.current_context` by default).
    """
    ctx = context or current_context()
    actor: str = ctx.actor
    if not is_admin(actor, context=ctx):
        admins = [g.user for g in ctx.store.governance.list_roles() if g.role == "admin"]
        raise PermissionDeniedError(
            f"{action} needs the admin role and user {actor!r} does not hold it; admins are: "
            f"{', '.join(admins) or 'none yet (grant the first with: keel roles grant USER admin)'}"
        )
    if actor not in _audited_admins(ctx):
        from keel.governance._guard import AuditMismatchError

        raise AuditMismatchError(
            f"{action} needs the admin role: the roles table says {actor!r} holds it, but no "
            "audit event granted it (it was written behind keel's back), so keel refuses. "
            "Run `keel audit verify` to list every row changed behind keel's back"
        )
    return actor


def grant_role(user: str, role: str = "admin", *, context: Context | None = None) -> RoleGrant:
    """Grant ``role`` to ``user`` (admins only, except the very first admin). Audited.

    Args:
        user: who gets the role.
        role: the role.
        context: where, and who acts (:func:`keel.context.current_context` by default).

    Example::

        >>> keel.governance.grant_role("alice", "admin")
    """
    ctx = context or current_context()
    actor: str = ctx.actor
    admins = [g for g in ctx.store.governance.list_roles() if g.role == "admin"]
    if admins:
        require_admin(f"granting {role!r}", context=ctx)
    elif audited := _audited_admins(ctx):
        # Deleting every admin row must not reopen the first-admin bootstrap.
        from keel.governance._guard import AuditMismatchError
        from keel.governance._state import cite

        user_, event = next(iter(audited.items()))
        raise AuditMismatchError(
            f"the roles table has no admin, but the audit chain says {user_!r} holds admin "
            f"({cite(event)}): the grants were deleted behind keel's back, so the first-admin "
            "bootstrap stays closed. Run `keel audit verify` to list every row changed behind "
            "keel's back"
        )
    grant: RoleGrant = ctx.store.governance.grant_role(user, role, actor)
    return grant


def revoke_role(user: str, role: str = "admin", *, context: Context | None = None) -> None:
    """Revoke ``role`` from ``user`` (admins only; the last admin cannot be revoked). Audited.

    Args:
        user: whose role.
        role: the role.
        context: where, and who acts (:func:`keel.context.current_context` by default).
    """
    ctx = context or current_context()
    actor = require_admin(f"revoking {role!r}", context=ctx)
    admins = [g.user for g in ctx.store.governance.list_roles() if g.role == "admin"]
    if role == "admin" and admins == [user]:
        raise ConflictError(
            f"{user!r} is the last admin; grant admin to someone else before revoking it"
        )
    ctx.store.governance.revoke_role(user, role, actor)


def list_roles(user: str | None = None, *, context: Context | None = None) -> list[RoleGrant]:
    """Role grants (of one user, or all).

    Args:
        user: one user's grants (everyone's when ``None``).
        context: where (:func:`keel.context.current_context` by default).
    """
    return (context or current_context()).store.governance.list_roles(user)
