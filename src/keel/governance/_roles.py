"""A minimal role model: ``admin`` may force promotions, delete aliases and manage roles.

Who is acting comes from ``Settings.resolved_actor()`` (``KEEL_ACTOR`` or the OS user).
Bootstrapping: while nobody holds ``admin``, the first grant of ``admin`` is allowed
to anyone (it is audited like every grant); after that only admins grant or revoke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.errors import ConflictError, KeelError
from keel.store import RoleGrant

if TYPE_CHECKING:
    from keel.tracking import Client

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


def _client(client: Any) -> Client:
    if client is not None:
        return client  # type: ignore[no-any-return]
    from keel.tracking import get_client

    return get_client()


def is_admin(user: str, *, client: Any = None) -> bool:
    """Whether ``user`` holds the ``admin`` role."""
    return any(g.role == "admin" for g in _client(client).store.governance.list_roles(user))


def require_admin(action: str, *, client: Any = None) -> str:
    """Return the acting user if they are an admin, else raise ``PermissionDeniedError``."""
    client = _client(client)
    actor: str = client.settings.resolved_actor()
    if not is_admin(actor, client=client):
        admins = [g.user for g in client.store.governance.list_roles() if g.role == "admin"]
        raise PermissionDeniedError(
            f"{action} needs the admin role and user {actor!r} does not hold it; admins are: "
            f"{', '.join(admins) or 'none yet (grant the first with: keel roles grant USER admin)'}"
        )
    return actor


def grant_role(user: str, role: str = "admin", *, client: Any = None) -> RoleGrant:
    """Grant ``role`` to ``user`` (admins only, except the very first admin). Audited.

    Example::

        >>> keel.governance.grant_role("alice", "admin")
    """
    client = _client(client)
    actor: str = client.settings.resolved_actor()
    admins = [g for g in client.store.governance.list_roles() if g.role == "admin"]
    if admins:
        require_admin(f"granting {role!r}", client=client)
    grant: RoleGrant = client.store.governance.grant_role(user, role, actor)
    return grant


def revoke_role(user: str, role: str = "admin", *, client: Any = None) -> None:
    """Revoke ``role`` from ``user`` (admins only; the last admin cannot be revoked). Audited."""
    client = _client(client)
    actor = require_admin(f"revoking {role!r}", client=client)
    admins = [g.user for g in client.store.governance.list_roles() if g.role == "admin"]
    if role == "admin" and admins == [user]:
        raise ConflictError(
            f"{user!r} is the last admin; grant admin to someone else before revoking it"
        )
    client.store.governance.revoke_role(user, role, actor)


def list_roles(user: str | None = None, *, client: Any = None) -> list[RoleGrant]:
    """Role grants (of one user, or all)."""
    return _client(client).store.governance.list_roles(user)
