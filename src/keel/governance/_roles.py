"""Roles per project, in embedded use: ``admin`` may force promotions, delete aliases
and manage roles.

Roles are ordered ``viewer < editor < maintainer < admin`` (``keel.store.ROLES``) and
granted per project; a user's role in the store's project is the highest one granted
there. Who is acting comes from ``Settings.resolved_actor()`` (``KEEL_ACTOR`` or the OS
user). Bootstrapping: while nobody holds ``admin`` in the project, the first grant of
``admin`` there is allowed to anyone (it is audited like every grant); after that only
the project's admins grant or revoke. (``keel server`` authenticates users with tokens
and checks every route's role itself; server admins hold ``admin`` in every project.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.errors import ConflictError, KeelError
from keel.store import AuditEvent, RoleGrant
from keel.store._audit import ROLES, highest_role, role_at_least

if TYPE_CHECKING:
    from keel.tracking import Client

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


def _client(client: Any) -> Client:
    if client is not None:
        return client  # type: ignore[no-any-return]
    from keel.tracking import get_client

    return get_client()


def role_of(user: str, *, client: Any = None) -> str | None:
    """The highest role ``user`` is granted in the store's project, or ``None``."""
    return highest_role(g.role for g in _client(client).store.governance.list_roles(user))


def is_admin(user: str, *, client: Any = None) -> bool:
    """Whether ``user`` holds the ``admin`` role in the store's project."""
    return role_of(user, client=client) == "admin"


def _audited_grants(client: Any) -> dict[tuple[str, str], AuditEvent]:
    """Who holds which role according to the audit chain: (user, role) -> the granting event."""
    events = client.store.governance.list_events(object_type="role", limit=100_000)
    holders: dict[tuple[str, str], AuditEvent] = {}
    for event in events:
        user, _, role = event.object_id.rpartition(":")
        if event.action == "role.grant":
            holders[(user, role)] = event
        elif event.action == "role.revoke":
            holders.pop((user, role), None)
    return holders


def _audited_admins(client: Any) -> dict[str, AuditEvent]:
    """Who holds ``admin`` according to the audit chain: user -> the granting event."""
    return {user: e for (user, role), e in _audited_grants(client).items() if role == "admin"}


def require_role(action: str, role: str = "admin", *, client: Any = None) -> str:
    """Return the acting user if they hold ``role`` (or a stronger one) in the store's project.

    The grant must also be in the audit chain: a role row written behind keel's back
    gives no power (``AuditMismatchError``).

    Raises:
        PermissionDeniedError: the acting user's role is weaker (the message names the
            role needed and who holds it).
        InvalidArgumentError: ``role`` is not one of ``keel.store.ROLES``.
    """
    _check_role(role)
    client = _client(client)
    actor: str = client.settings.resolved_actor()
    grants = client.store.governance.list_roles()
    held = [g.role for g in grants if g.user == actor and role_at_least(g.role, role)]
    if not held:
        holders = sorted({g.user for g in grants if role_at_least(g.role, role)})
        hint = (
            "none yet (grant the first admin with: keel roles grant USER admin)"
            if not holders and role == "admin"
            else ", ".join(holders) or "none"
        )
        raise PermissionDeniedError(
            f"{action} needs the {role} role and user {actor!r} does not hold it in project "
            f"{client.store.project!r}; {'admins' if role == 'admin' else f'users with {role} or above'} "
            f"are: {hint}"
        )
    audited = _audited_grants(client)
    if not any((actor, r) in audited for r in held):
        from keel.governance._guard import AuditMismatchError

        raise AuditMismatchError(
            f"{action} needs the {role} role: the roles table says {actor!r} holds "
            f"{highest_role(held)}, but no audit event granted it (it was written behind "
            "keel's back), so keel refuses. Run `keel audit verify` to list every row "
            "changed behind keel's back"
        )
    return actor


def require_admin(action: str, *, client: Any = None) -> str:
    """Return the acting user if they are an admin of the store's project (see :func:`require_role`)."""
    return require_role(action, "admin", client=client)


def _check_role(role: str) -> None:
    if role not in ROLES:
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError(f"role {role!r} does not exist; roles are: {', '.join(ROLES)}")


def grant_role(user: str, role: str = "admin", *, client: Any = None) -> RoleGrant:
    """Grant ``role`` to ``user`` in the store's project (its admins only, except the
    very first admin). Audited.

    Example::

        >>> keel.governance.grant_role("alice", "admin")
        >>> keel.governance.grant_role("bob", "editor")
    """
    _check_role(role)
    client = _client(client)
    actor: str = client.settings.resolved_actor()
    admins = [g for g in client.store.governance.list_roles() if g.role == "admin"]
    if admins:
        require_admin(f"granting {role!r}", client=client)
    elif audited := _audited_admins(client):
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
            f"granting {role!r} needs the admin role, and project {client.store.project!r} has "
            "no admin yet; grant the first with: keel roles grant USER admin"
        )
    grant: RoleGrant = client.store.governance.grant_role(user, role, actor)
    return grant


def revoke_role(user: str, role: str = "admin", *, client: Any = None) -> None:
    """Revoke ``role`` from ``user`` in the store's project (its admins only; the last admin
    cannot be revoked). Audited."""
    _check_role(role)
    client = _client(client)
    actor = require_admin(f"revoking {role!r}", client=client)
    admins = [g.user for g in client.store.governance.list_roles() if g.role == "admin"]
    if role == "admin" and admins == [user]:
        raise ConflictError(
            f"{user!r} is the last admin; grant admin to someone else before revoking it"
        )
    client.store.governance.revoke_role(user, role, actor)


def list_roles(user: str | None = None, *, client: Any = None) -> list[RoleGrant]:
    """Role grants in the store's project (of one user, or all)."""
    return _client(client).store.governance.list_roles(user)
