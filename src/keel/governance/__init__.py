"""Governance: the hash-chained audit log, the state it explains, and roles per project.

Example::

    >>> import keel.governance as gov
    >>> anchor = str(gov.head())          # HASH:COUNT, kept somewhere else
    >>> gov.verify(expect=anchor).ok
    True
"""

from __future__ import annotations

from keel.governance._audit import AuditChainBrokenError, head, list_events, parse_since, verify
from keel.governance._guard import AuditMismatchError, check_alias, check_version
from keel.governance._roles import (
    PermissionDeniedError,
    grant_role,
    is_admin,
    list_roles,
    require_admin,
    require_role,
    revoke_role,
    role_of,
)
from keel.governance._state import StateMismatch
from keel.governance._verify import AnchorCheck, AuditVerification, parse_anchor
from keel.store._audit import AuditHead

__all__ = [
    "AnchorCheck",
    "AuditChainBrokenError",
    "AuditHead",
    "AuditMismatchError",
    "AuditVerification",
    "PermissionDeniedError",
    "StateMismatch",
    "check_alias",
    "check_version",
    "grant_role",
    "head",
    "is_admin",
    "list_events",
    "list_roles",
    "parse_anchor",
    "parse_since",
    "require_admin",
    "require_role",
    "revoke_role",
    "role_of",
    "verify",
]
