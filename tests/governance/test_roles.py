"""Roles per project in embedded use: four ordered roles, the highest grant counts, the
first-admin bootstrap is per project and only for ``admin``."""

from __future__ import annotations

from typing import Any

import pytest

import keel.governance as gov
from keel.context import Context
from keel.errors import InvalidArgumentError
from keel.governance import PermissionDeniedError


def _as(client: Any, actor: str, project: str | None = None) -> Context:
    """A context on ``client``'s database, acting as ``actor`` (in ``project`` when given)."""
    store = client.store if project is None else client.store.for_project(project)
    settings = client.settings.model_copy(update={"actor": actor})
    return Context(settings, store=store, project=project)


def test_the_first_grant_of_a_project_must_be_admin(client: Any) -> None:
    with pytest.raises(PermissionDeniedError, match="no admin yet"):
        gov.grant_role("bob", "editor", context=_as(client, "bob"))
    assert gov.list_roles(context=_as(client, "anyone")) == []
    gov.grant_role("alice", "admin", context=_as(client, "anyone"))
    assert gov.role_of("alice", context=_as(client, "anyone")) == "admin"


def test_the_highest_grant_counts_and_require_role_names_the_role(client: Any) -> None:
    alice, bob = _as(client, "alice"), _as(client, "bob")
    gov.grant_role("alice", "admin", context=alice)
    gov.grant_role("bob", "viewer", context=alice)
    gov.grant_role("bob", "editor", context=alice)
    assert gov.role_of("bob", context=_as(client, "anyone")) == "editor"
    assert not gov.is_admin("bob", context=_as(client, "anyone"))
    assert gov.require_role("logging", "viewer", context=bob) == "bob"
    assert gov.require_role("logging", "editor", context=bob) == "bob"
    with pytest.raises(PermissionDeniedError, match=r"needs the maintainer role .* alice$"):
        gov.require_role("archiving iris/2", "maintainer", context=bob)
    with pytest.raises(PermissionDeniedError, match="needs the admin role"):
        gov.grant_role("bob", "admin", context=bob)
    with pytest.raises(InvalidArgumentError, match="roles are: viewer, editor, maintainer, admin"):
        gov.grant_role("bob", "owner", context=alice)
    with pytest.raises(InvalidArgumentError, match="roles are"):
        gov.require_role("x", "owner", context=bob)
    gov.revoke_role("bob", "editor", context=alice)
    assert gov.role_of("bob", context=_as(client, "anyone")) == "viewer"


def test_roles_and_the_bootstrap_are_per_project(client: Any) -> None:
    gov.grant_role("alice", "admin", context=_as(client, "alice"))
    mallory_beta = _as(client, "mallory", "beta")
    # Project beta has no admin yet: its bootstrap is open, alpha's admin counts nothing there.
    assert gov.role_of("alice", context=_as(client, "alice", "beta")) is None
    with pytest.raises(PermissionDeniedError, match="in project 'beta'"):
        gov.require_admin("deleting m@champion", context=_as(client, "alice", "beta"))
    gov.grant_role("mallory", "admin", context=mallory_beta)
    assert gov.is_admin("mallory", context=mallory_beta)
    assert not gov.is_admin("mallory", context=_as(client, "anyone"))
    with pytest.raises(PermissionDeniedError, match="admins are: alice"):
        gov.require_admin("deleting m@champion", context=_as(client, "mallory"))
    assert [g.user for g in gov.list_roles(context=mallory_beta)] == ["mallory"]
    assert client.store.for_project("beta").governance.verify().ok
