"""Governance: the hash-chained audit log and a minimal role model.

Example::

    >>> import keel.governance as gov
    >>> gov.verify().ok
    True
"""

from __future__ import annotations

from keel.governance._audit import AuditChainBrokenError, list_events, parse_since, verify
from keel.governance._roles import (
    PermissionDeniedError,
    grant_role,
    is_admin,
    list_roles,
    require_admin,
    revoke_role,
)

__all__ = [
    "AuditChainBrokenError",
    "PermissionDeniedError",
    "grant_role",
    "is_admin",
    "list_events",
    "list_roles",
    "parse_since",
    "require_admin",
    "revoke_role",
    "verify",
]
