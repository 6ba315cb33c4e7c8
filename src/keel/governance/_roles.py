"""Roles per project, in embedded use: ``admin`` may force promotions, delete aliases
and manage roles.

Roles are ordered ``viewer < editor < maintainer < admin`` (``keel.store.ROLES``) and
granted per project; a user's role in the context's project is the highest one granted
there. Who is acting is the context's actor (``KEEL_ACTOR`` or the OS user).
Bootstrapping: while nobody holds ``admin`` in the project, the first grant of
``admin`` there is allowed to anyone (it is audited like every grant); after that only
the project's admins grant or revoke. (``keel server`` authenticates users with tokens
and checks every route's role itself; server admins hold ``admin`` in every project.)
"""

from __future__ import annotations

from keel.context import Context, current_context
from keel.errors import ConflictError, InvalidArgumentError, KeelError
from keel.store import AuditEvent, RoleGrant, ServiceGateway
from keel.store._audit import ROLES, highest_role, role_at_least

__all__ = [
    "PermissionDeniedError",
    "grant_role",
    "is_admin",
    "list_roles",
    "require_admin",
    "require_role",
    "revoke_role",
    "role_of",
]


class PermissionDeniedError(KeelError):
    """The acting user lacks the role the operation needs."""

    code = "PERMISSION_DENIED"
    http_status = 403


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidArgumentError(f"role {role!r} does not exist; roles are: {', '.join(ROLES)}")


def role_of(user: str, *, context: Context | None = None) -> str | None:
    """The highest role ``user`` is granted in the context's project, or ``None``.

    Args:
        user: the user name.
        context: where (:func:`keel.context.current_context` by default).
    """
    store = (context or current_context()).store
    return highest_role(g.role for g in store.governance.list_roles(user))


def is_admin(user: str, *, context: Context | None = None) -> bool:
    """Whether ``user`` holds the ``admin`` role in the context's project.

    Args:
        user: the user name.
        context: where (:func:`keel.context.current_context` by default).
    """
    return role_of(user, context=context) == "admin"


def _audited_grants(ctx: Context) -> dict[tuple[str, str], AuditEvent]:
    """Who holds which role according to the audit chain: (user, role) -> the granting event."""
    events = ctx.store.governance.list_events(object_type="role", limit=100_000)
    holders: dict[tuple[str, str], AuditEvent] = {}
    for event in events:
        user, _, role = event.object_id.rpartition(":")
        if event.action == "role.grant":
            holders[(user, role)] = event
        elif event.action == "role.revoke":
            holders.pop((user, role), None)
    return holders


def _audited_admins(ctx: Context) -> dict[str, AuditEvent]:
    """Who holds ``admin`` according to the audit chain: user -> the granting event."""
    return {user: e for (user, role), e in _audited_grants(ctx).items() if role == "admin"}


def require_role(action: str, role: str = "admin", *, context: Context | None = None) -> str:
    """Return the acting user if they hold ``role`` (or a stronger one) in the context's project.

    The grant must also be in the audit chain: a role row written behind keel's back
    gives no power (``AuditMismatchError``).

    Args:
        action: what needs the role, for the message (``"archiving iris/2"``).
        role: the weakest role that may do it.
        context: whose actor and store (:func:`keel.context.current_context` by default).

    Against a keel server (a REST store) the server decides, on every call.

    Raises:
        PermissionDeniedError: the acting user's role is weaker (the message names the
            role needed and who holds it).
        InvalidArgumentError: ``role`` is not one of ``keel.store.ROLES``.
    """
    _check_role(role)
    ctx = context or current_context()
    actor: str = ctx.actor
    if isinstance(ctx.store, ServiceGateway):
        # A keel server checks every call against its access table (server administrators
        # hold every role there); a check here could only disagree with it.
        return actor
    grants = ctx.store.governance.list_roles()
    held = [g.role for g in grants if g.user == actor and role_at_least(g.role, role)]
    if not held:
        holders = sorted({g.user for g in grants if role_at_least(g.role, role)})
        who = "admins" if role == "admin" else f"users with {role} or above"
        hint = (
            "none yet (grant the first with: keel roles grant USER admin)"
            if not holders and role == "admin"
            else ", ".join(holders) or "none"
        )
        raise PermissionDeniedError(
            f"{action} needs the {role} role and user {actor!r} does not hold it in project "
            f"{ctx.store.project!r}; {who} are: {hint}"
        )
    audited = _audited_grants(ctx)
    if not any((actor, r) in audited for r in held):
        from keel.governance._guard import AuditMismatchError

        raise AuditMismatchError(
            f"{action} needs the {role} role: the roles table says {actor!r} holds "
            f"{highest_role(held)}, but no audit event granted it (it was written behind "
            "keel's back), so keel refuses. Run `keel audit verify` to list every row "
            "changed behind keel's back"
        )
    return actor


def require_admin(action: str, *, context: Context | None = None) -> str:
    """Return the acting user if they are an admin of the context's project.

    See :func:`require_role`; the grant must also be in the audit chain.

    Args:
        action: what needs the role, for the message (``"forcing a promotion of iris/2"``).
        context: whose actor and store (:func:`keel.context.current_context` by default).
    """
    return require_role(action, "admin", context=context)


def grant_role(user: str, role: str = "admin", *, context: Context | None = None) -> RoleGrant:
    """Grant ``role`` to ``user`` in the context's project (its admins only, except the
    project's very first admin). Audited.

    Args:
        user: who gets the role.
        role: ``viewer``, ``editor``, ``maintainer`` or ``admin``.
        context: where, and who acts (:func:`keel.context.current_context` by default).

    Example::

        >>> keel.governance.grant_role("alice", "admin")
        >>> keel.governance.grant_role("bob", "editor")
    """
    _check_role(role)
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
    elif role != "admin":
        raise PermissionDeniedError(
            f"granting {role!r} needs the admin role, and project {ctx.store.project!r} has "
            "no admin yet; grant the first with: keel roles grant USER admin"
        )
    grant: RoleGrant = ctx.store.governance.grant_role(user, role, actor)
    return grant


def revoke_role(user: str, role: str = "admin", *, context: Context | None = None) -> None:
    """Revoke ``role`` from ``user`` in the context's project (its admins only; the last
    admin cannot be revoked). Audited.

    Args:
        user: whose role.
        role: the role.
        context: where, and who acts (:func:`keel.context.current_context` by default).
    """
    _check_role(role)
    ctx = context or current_context()
    actor = require_admin(f"revoking {role!r}", context=ctx)
    admins = [g.user for g in ctx.store.governance.list_roles() if g.role == "admin"]
    if role == "admin" and admins == [user]:
        raise ConflictError(
            f"{user!r} is the last admin; grant admin to someone else before revoking it"
        )
    ctx.store.governance.revoke_role(user, role, actor)


def list_roles(user: str | None = None, *, context: Context | None = None) -> list[RoleGrant]:
    """Role grants in the context's project (of one user, or all).

    Args:
        user: one user's grants (everyone's when ``None``).
        context: where (:func:`keel.context.current_context` by default).
    """
    return (context or current_context()).store.governance.list_roles(user)
