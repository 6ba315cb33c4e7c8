"""Repeated failed logins from one client are answered 429 for a while (own server: the
limiter closes this client's door, which would disturb the other modules' tests)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from keel.server._auth import FailedLogins
from keel_server import KeelServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    running = KeelServer(tmp_path_factory.mktemp("logins")).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


def test_ten_bad_tokens_then_429_with_retry_after(server: KeelServer) -> None:
    bad = {"Authorization": "Bearer keel_000000000000_" + "B" * 43}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        statuses = [http.get("/api/v1/whoami", headers=bad).status_code for _ in range(10)]
        assert statuses == [401] * 10
        limited = http.get("/api/v1/whoami", headers=bad)
        assert limited.status_code == 429 and limited.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # while limited, even a good token from this address waits (it may be a guess)
        good = {"Authorization": f"Bearer {server.admin_token}"}
        assert http.get("/api/v1/whoami", headers=good).status_code == 429
        assert http.get("/health").status_code == 200  # public routes stay open


def test_the_bookkeeping_is_bounded_and_forgets_old_failures() -> None:
    limiter = FailedLogins(limit=2, window=60.0, max_clients=100)
    for i in range(10_000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100  # the least recently failing addresses are forgotten
    limiter.failed("a")
    assert limiter.retry_after("a") is None
    limiter.failed("a")
    wait = limiter.retry_after("a")
    assert wait is not None and 1.0 <= wait <= 60.0
    expired = FailedLogins(limit=1, window=0.0)
    expired.failed("b")
    assert expired.retry_after("b") is None and len(expired) == 0
