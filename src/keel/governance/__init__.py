"""Governance: the hash-chained audit log, the state it explains, and roles per project.

Example::

    >>> import keel.governance as gov
    >>> anchor = str(gov.head())          # HASH:COUNT, kept somewhere else
    >>> gov.verify(expect=anchor).ok
    True
"""

from __future__ import annotations

from keel.governance._access import (
    bootstrap_admin,
    create_project,
    create_token,
    create_user,
    list_projects,
    list_tokens,
    list_users,
    revoke_token,
    set_user_disabled,
)
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
    "bootstrap_admin",
    "check_alias",
    "check_version",
    "create_project",
    "create_token",
    "create_user",
    "grant_role",
    "head",
    "is_admin",
    "list_events",
    "list_projects",
    "list_roles",
    "list_tokens",
    "list_users",
    "parse_anchor",
    "parse_since",
    "require_admin",
    "require_role",
    "revoke_role",
    "revoke_token",
    "role_of",
    "set_user_disabled",
    "verify",
]
