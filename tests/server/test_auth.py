"""The server's access cache: reused answers never outlive a change made through it,
a token's expiry, or the documented delay for changes made elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keel._clock import now_ms
from keel.server._auth import ACCESS_CACHE_SECONDS, AccessCache
from keel.store import Identity, open_store
from keel_server import KeelServer

P = "/api/v1/projects/default"


def test_an_identity_is_reused_for_ttl_seconds_only() -> None:
    cache = AccessCache(ttl=0.2)
    ana = Identity("ana", False, "t1")
    assert cache.identity("keel_a") is None
    cache.remember_identity("keel_a", ana)
    assert cache.identity("keel_a") == ana
    assert cache.identity("keel_b") is None  # another token is not ana
    time.sleep(0.25)
    assert cache.identity("keel_a") is None


def test_a_remembered_token_is_not_honoured_past_its_expiry() -> None:
    cache = AccessCache(ttl=60)
    cache.remember_identity("keel_a", Identity("ana", False, "t1", now_ms() + 150))
    assert cache.identity("keel_a") is not None
    time.sleep(0.2)
    assert cache.identity("keel_a") is None


def test_roles_are_reused_and_cleared() -> None:
    cache = AccessCache(ttl=60)
    assert cache.role("ana", "fraud") == (False, None)
    cache.remember_role("ana", "fraud", "editor")
    cache.remember_role("bob", "fraud", None)  # a non-member is an answer too
    assert cache.role("ana", "fraud") == (True, "editor")
    assert cache.role("bob", "fraud") == (True, None)
    assert cache.role("ana", "other") == (False, None)
    cache.remember_identity("keel_a", Identity("ana", False, "t1"))
    cache.clear()
    assert cache.role("ana", "fraud") == (False, None) and cache.identity("keel_a") is None


def test_ttl_zero_turns_the_cache_off_and_its_size_is_bounded() -> None:
    off = AccessCache(ttl=0)
    off.remember_identity("keel_a", Identity("ana", False, "t1"))
    off.remember_role("ana", "p", "viewer")
    assert off.identity("keel_a") is None and off.role("ana", "p") == (False, None)
    small = AccessCache(ttl=60, max_entries=3)
    for i in range(10):
        small.remember_identity(f"keel_{i}", Identity("ana", False, str(i)))
        small.remember_role("ana", f"p{i}", "viewer")
    assert len(small._identities) <= 3 and len(small._roles) <= 3
    assert small.identity("keel_9") is not None


# -- on a real server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    running = KeelServer(tmp_path_factory.mktemp("server")).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


def _user_with_token(server: KeelServer, name: str, role: str | None) -> tuple[str, str]:
    admin = server.client()
    try:
        admin.access.create_user(name, actor="-")
        info, secret = admin.access.create_token(name, "t", None, actor="-")
        if role is not None:
            admin.governance.grant_role(name, role, actor="-")
    finally:
        admin.close()
    return info.id, secret


def _status(server: KeelServer, secret: str) -> int:
    answer = httpx.get(
        f"{server.url}{P}/experiments", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    return answer.status_code


def test_a_token_revoked_through_the_server_is_refused_at_once(server: KeelServer) -> None:
    token_id, secret = _user_with_token(server, "rita", "viewer")
    assert _status(server, secret) == 200  # checked, and remembered
    admin = server.client()
    try:
        admin.access.revoke_token(token_id, actor="-")
    finally:
        admin.close()
    assert _status(server, secret) == 401  # no waiting: this server made the change


def test_a_role_revoked_through_the_server_is_refused_at_once(server: KeelServer) -> None:
    _, secret = _user_with_token(server, "roland", "viewer")
    assert _status(server, secret) == 200
    admin = server.client()
    try:
        admin.governance.revoke_role("roland", "viewer", actor="-")
    finally:
        admin.close()
    assert _status(server, secret) == 403


def test_a_token_revoked_on_the_database_is_refused_within_the_cache_time(
    server: KeelServer, tmp_path: Path
) -> None:
    token_id, secret = _user_with_token(server, "dora", "viewer")
    assert _status(server, secret) == 200
    # another process (this one) revokes it where the database is, as `keel tokens
    # revoke` run on the server's machine would
    with open_store(server.store_uri) as store:
        store.access.revoke_token(token_id, actor="-")
    time.sleep(ACCESS_CACHE_SECONDS + 0.2)
    assert _status(server, secret) == 401


def test_closing_a_context_closes_its_connections_to_the_server(
    server: KeelServer, tmp_path: Path
) -> None:
    import psutil

    from keel.config import Settings
    from keel.context import Context

    def connections() -> int:
        return sum(
            1
            for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == server.port and c.status == "ESTABLISHED"
        )

    before = connections()
    settings = Settings(
        home=tmp_path, store_uri=server.url, token=server.admin_token, cache_dir=tmp_path / "c"
    )
    ctx = Context(settings)
    stored = ctx.artifacts.put_bytes(b"bytes through the server")
    assert ctx.artifacts.get_bytes(stored.sha256) == b"bytes through the server"
    ctx.store.tracking.list_experiments()
    assert connections() > before
    ctx.close()
    assert connections() == before  # the store's and the artifact store's pools are closed
    assert ctx.artifacts.exists(stored.sha256)  # and open again on the next use
    ctx.close()
