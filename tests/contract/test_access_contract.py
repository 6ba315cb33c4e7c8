"""The AccessStore contract on SQLite and PostgreSQL: projects, users, API tokens, roles
across projects, and the objects each project may read (``project_objects``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.store import (
    ArtifactRecord,
    Identity,
    ModelFile,
    ModelVersionDraft,
    NewDatasetVersion,
    StepOutput,
    StepStatus,
    Store,
    open_store,
)

SECRET = re.compile(r"^keel_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def store(sql_store: Any) -> Any:
    """SQLite and PostgreSQL only: this module tests the AccessStore's SQL implementation (over REST, the same
    behaviour is shown through the server in tests/e2e)."""
    return sql_store


def _sql(store: Any, statement: str, **params: Any) -> Any:
    with store.database.engine.begin() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.all() if result.returns_rows else None


def _system_events(store: Any) -> list[Any]:
    with open_store(store.database.uri, project="_system") as system:
        assert system.governance.verify().ok
        return system.governance.list_events()


# -- projects ---------------------------------------------------------------------------


def test_projects(store: Store) -> None:
    access = store.access
    assert [p.name for p in access.list_projects()] == ["default"]  # made by the migration
    made = access.create_project("fraud", "fraud models", actor="root")
    assert (made.name, made.description, made.created_by) == ("fraud", "fraud models", "root")
    assert access.get_project("fraud") == made
    assert [p.name for p in access.list_projects()] == ["default", "fraud"]
    with pytest.raises(ConflictError, match="'fraud' already exists"):
        access.create_project("fraud", actor="root")
    for bad in ("_system", "Fraud", "", "a/b", "x" * 64, "-x"):
        with pytest.raises(InvalidArgumentError, match="project name"):
            access.create_project(bad, actor="root")
    with pytest.raises(NotFoundError, match="keel projects list"):
        access.get_project("nope")
    events = _system_events(store)
    assert [(e.action, e.object_id, e.actor) for e in events] == [
        ("project.create", "fraud", "root")
    ]
    assert store.governance.list_events() == []  # the bound project's chain is untouched


# -- users ------------------------------------------------------------------------------


def test_users(store: Store) -> None:
    access = store.access
    alice = access.create_user("alice@example.com", admin=True, actor="root")
    access.create_user("bob", actor="root")
    assert alice.admin and not alice.disabled and alice.created_by == "root"
    assert [u.name for u in access.list_users()] == ["alice@example.com", "bob"]
    with pytest.raises(ConflictError):
        access.create_user("bob", actor="root")
    for bad in ("Bob", "", "a b", "x" * 64, "bob:admin"):
        with pytest.raises(InvalidArgumentError, match="user name"):
            access.create_user(bad, actor="root")
    with pytest.raises(NotFoundError, match="keel users list"):
        access.get_user("carol")
    assert access.set_user_disabled("bob", True, actor="root").disabled
    assert access.set_user_disabled("bob", True, actor="root").disabled  # no change, no event
    assert not access.set_user_disabled("bob", False, actor="root").disabled
    with pytest.raises(NotFoundError):
        access.set_user_disabled("carol", True, actor="root")
    assert [e.action for e in _system_events(store)] == [
        "user.create",
        "user.create",
        "user.disable",
        "user.enable",
    ]


# -- tokens -----------------------------------------------------------------------------


def test_a_token_authenticates_its_user_and_only_its_hash_is_stored(store: Any) -> None:
    access = store.access
    access.create_user("alice", actor="root")
    info, secret = access.create_token("alice", "laptop", actor="root")
    assert SECRET.match(secret) and len(secret) == 61
    assert secret.startswith(f"keel_{info.id}_")
    assert (info.user, info.name, info.created_by) == ("alice", "laptop", "root")
    assert info.expires_at is info.revoked_at is info.last_used_at is None
    assert access.authenticate(secret) == Identity("alice", False, info.id)

    # The secret is nowhere in the database; its SHA-256 is.
    rows = _sql(store, "SELECT * FROM tokens")
    assert secret not in json.dumps([list(r) for r in rows], default=str)
    assert rows[0].secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # ...and neither it nor its hash is in the audit chain.
    dumped = json.dumps([e.to_dict() for e in _system_events(store)])
    assert secret not in dumped and rows[0].secret_hash not in dumped
    assert [e.action for e in _system_events(store)] == ["user.create", "token.create"]

    # Two tokens never share a secret, and each secret is its own token's.
    other, secret2 = access.create_token("alice", "ci", actor="root")
    assert secret2 != secret and other.id != info.id
    assert access.authenticate(secret2) == Identity("alice", False, other.id)
    assert [t.name for t in access.list_tokens("alice")] == ["laptop", "ci"]
    assert access.list_tokens("bob") == []
    assert "keel_" not in repr(access.list_tokens())


def test_malformed_wrong_and_unknown_secrets_are_refused(store: Store) -> None:
    access = store.access
    access.create_user("alice", actor="root")
    info, secret = access.create_token("alice", "laptop", actor="root")
    head, tail = secret[:-1], secret[-1]
    wrong_last = head + ("A" if tail != "A" else "B")
    unknown_id = f"keel_{'0' * 12}_{secret.rsplit('_', 1)[1]}" if info.id != "0" * 12 else secret
    attempts: list[Any] = [
        "",
        "keel_",
        secret[:-1],
        secret + "A",
        " " + secret,
        secret + "\n",
        secret.upper(),
        secret.replace("keel_", "KEEL_"),
        secret.replace("keel_", "keel-"),
        f"keel_{info.id.upper()}_{secret[18:]}",
        wrong_last,
        unknown_id,
        "Bearer " + secret,
        "keel_" + "g" * 12 + "_" + "A" * 43,
        "x" * 10_000,
        None,
        b"keel_",
        123,
    ]
    for attempt in attempts:
        assert access.authenticate(attempt) is None, attempt
    assert access.authenticate(secret) is not None


def test_expired_revoked_and_disabled_tokens_are_refused(store: Any) -> None:
    access = store.access
    access.create_user("alice", actor="root")
    now = int(time.time() * 1000)
    soon, soon_secret = access.create_token("alice", "soon", now + 3_600_000, actor="root")
    assert soon.expires_at == now + 3_600_000
    assert access.authenticate(soon_secret) is not None
    _sql(store, "UPDATE tokens SET expires_at = :t WHERE id = :i", t=now - 1, i=soon.id)
    assert access.authenticate(soon_secret) is None
    for past in (now - 1000, 0, -5):
        with pytest.raises(InvalidArgumentError, match="not a time in the future"):
            access.create_token("alice", "old", past, actor="root")
    with pytest.raises(InvalidArgumentError, match="token name"):
        access.create_token("alice", "", actor="root")
    with pytest.raises(InvalidArgumentError, match="token name"):
        access.create_token("alice", "x" * 129, actor="root")
    with pytest.raises(NotFoundError, match="user 'bob' does not exist"):
        access.create_token("bob", "t", actor="root")

    info, secret = access.create_token("alice", "laptop", actor="root")
    revoked = access.revoke_token(info.id, actor="root")
    assert revoked.revoked_at is not None and not revoked.is_active(now)
    assert access.authenticate(secret) is None
    assert access.revoke_token(info.id, actor="root") == revoked  # again: no change
    with pytest.raises(NotFoundError, match="keel tokens list"):
        access.revoke_token("0" * 12 if info.id != "0" * 12 else "1" * 12, actor="root")

    live, live_secret = access.create_token("alice", "desk", actor="root")
    access.set_user_disabled("alice", True, actor="root")
    assert access.authenticate(live_secret) is None
    with pytest.raises(ConflictError, match="disabled"):
        access.create_token("alice", "more", actor="root")
    access.set_user_disabled("alice", False, actor="root")
    assert access.authenticate(live_secret) == Identity("alice", False, live.id)
    actions = [e.action for e in _system_events(store)]
    assert actions.count("token.revoke") == 1 and actions.count("token.create") == 3


def test_last_use_is_recorded_at_most_once_a_minute(store: Any) -> None:
    access = store.access
    access.create_user("alice", actor="root")
    info, secret = access.create_token("alice", "laptop", actor="root")
    assert access.authenticate(secret) is not None
    first = access.list_tokens()[0].last_used_at
    assert first is not None and first >= info.created_at
    assert access.authenticate(secret) is not None
    assert access.list_tokens()[0].last_used_at == first  # within the minute: not rewritten
    _sql(store, "UPDATE tokens SET last_used_at = :t", t=first - 61_000)
    assert access.authenticate(secret) is not None
    assert access.list_tokens()[0].last_used_at >= first
    assert access.authenticate(secret + "x") is None
    assert [e.action for e in _system_events(store)] == ["user.create", "token.create"]


# -- roles across projects --------------------------------------------------------------


def test_role_in_is_the_highest_grant_and_server_admins_hold_admin_everywhere(
    store: Store,
) -> None:
    access = store.access
    access.create_user("root", admin=True, actor="keel")
    access.create_user("dan", actor="root")
    assert access.role_in("dan", "default") is None
    store.governance.grant_role("dan", "viewer", "root")
    assert access.role_in("dan", "default") == "viewer"
    store.governance.grant_role("dan", "maintainer", "root")
    store.governance.grant_role("dan", "editor", "root")
    assert access.role_in("dan", "default") == "maintainer"
    assert access.role_in("dan", "other") is None
    assert access.role_in("root", "default") == "admin"
    assert access.role_in("root", "any-project") == "admin"
    assert access.role_in("eve", "default") is None  # no user, no grant
    store.governance.grant_role("eve", "editor", "root")  # embedded names need no user row
    assert access.role_in("eve", "default") == "editor"
    access.set_user_disabled("root", True, actor="keel")
    access.set_user_disabled("dan", True, actor="keel")
    assert access.role_in("root", "default") is None
    assert access.role_in("dan", "default") is None


def test_role_order() -> None:
    from keel.store import ROLES, role_at_least

    assert ROLES == ("viewer", "editor", "maintainer", "admin")
    assert role_at_least("admin", "viewer") and role_at_least("editor", "editor")
    assert not role_at_least("editor", "maintainer") and not role_at_least(None, "viewer")
    assert not role_at_least("superuser", "viewer")
    with pytest.raises(ValueError, match="roles are"):
        role_at_least("admin", "root")


# -- project_objects --------------------------------------------------------------------


def test_project_objects_add_and_has(store: Store) -> None:
    access = store.access
    a, b = "a" * 64, "b" * 64
    assert not access.project_has_object("default", a)
    access.add_project_objects("default", [a, a])
    access.add_project_objects("default", [a])  # idempotent
    access.add_project_objects("default", [])
    assert access.project_has_object("default", a)
    assert not access.project_has_object("other", a) and not access.project_has_object("default", b)
    for bad in (["A" * 64], ["a" * 63], ["../x"]):
        with pytest.raises(InvalidArgumentError, match="sha256"):
            access.add_project_objects("default", bad)
    with pytest.raises(InvalidArgumentError, match="project name"):
        access.add_project_objects("Bad", [a])


def test_every_recording_method_grants_its_project_the_object(store: Any) -> None:
    """Artifacts, dataset versions, model files and step outputs: in the same transaction."""
    other = open_store(store.database.uri, project="other")
    other.open()
    try:
        has = store.access.project_has_object

        def sha(c: str) -> str:
            return c * 64

        exp = store.tracking.create_experiment("e")
        run = store.tracking.create_run(exp.id)
        store.tracking.record_artifact(run.id, ArtifactRecord("a.txt", 1, sha("1"), 1))
        assert has("default", sha("1")) and not has("other", sha("1"))

        new = NewDatasetVersion(
            name="d",
            content_hash=sha("2"),
            size_bytes=1,
            num_rows=1,
            schema={},
            profile={},
            source_uri="file:///x",
            created_by="t",
            created_at=1,
        )
        store.datasets.create_version(new)
        assert has("default", sha("2")) and not has("other", sha("2"))
        other.datasets.create_version(new)  # the same bytes registered in another project
        assert has("other", sha("2"))

        store.registry.create_version(
            ModelVersionDraft(
                name="m",
                run_id=run.id,
                flavor="sklearn",
                format="skops",
                files=(
                    ModelFile("model/model.skops", sha("3"), 1, "model"),
                    ModelFile("model/keel-model.json", sha("4"), 1, "descriptor"),
                ),
            ),
            "t",
        )
        assert has("default", sha("3")) and has("default", sha("4"))

        prun = store.pipelines.create_pipeline_run("p", [("a", [])])
        outputs = [
            StepOutput("x", "json", sha("5"), sha("5")),
            StepOutput("y", "npy", sha("6"), "h" * 64),
            StepOutput("z", "dataset", "someversionid", sha("7")),
            StepOutput("w", "none", "", "none"),
        ]
        store.pipelines.finish_step_run(prun.steps[0].id, StepStatus.FINISHED, outputs)
        assert has("default", sha("5")) and has("default", sha("6")) and has("default", sha("7"))
        assert not has("default", "h" * 64)  # a content hash only, not a stored object
        assert not has("other", sha("5"))

        # A failed write grants nothing: the run has ended.
        store.tracking.end_run(run.id, "FINISHED")  # type: ignore[arg-type]
        with pytest.raises(Exception, match="has ended"):
            store.tracking.record_artifact(run.id, ArtifactRecord("b.txt", 1, sha("8"), 1))
        assert not has("default", sha("8"))
    finally:
        other.close()
