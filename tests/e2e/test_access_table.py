"""Every route the server mounts, called by every kind of caller: allowed or refused as the
access table says, and refused when the table does not know the route.

The routes are enumerated from the app itself, so a route added tomorrow is covered
tomorrow (and refused until it is given a rule). Callers: no token, a bad token, a
viewer, an editor, a maintainer and an admin of project ``alpha``, an admin of another
project, and a server administrator. A refused call is 401 (who are you?) or 403
(not you); an allowed one may still fail on its dummy arguments, but never with 401,
403 or a server error.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from keel.server import create_app
from keel.server._access import AUTHENTICATED, PUBLIC, ROUTE_ROLES, SERVER_ADMIN, role_at_least

CALLERS = [None, "bad", "viewer", "editor", "maintainer", "admin", "outsider", "server_admin"]
ROLE_OF = {"viewer": "viewer", "editor": "editor", "maintainer": "maintainer", "admin": "admin"}


def _walk(routes: list[Any], found: list[tuple[str, str]]) -> None:
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            found += [(method, route.path) for method in sorted(route.methods)]
        elif hasattr(route, "original_router"):  # an included router (FastAPI 0.16x)
            _walk(route.original_router.routes, found)


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) of every API route the app mounts, nested routers included."""
    found: list[tuple[str, str]] = []
    _walk(create_app().routes, found)
    return found


def _allowed(need: str, caller: str | None) -> bool:
    if need == PUBLIC:
        return True
    if caller in (None, "bad"):
        return False
    if need == AUTHENTICATED or caller == "server_admin":
        return True
    if need == SERVER_ADMIN:
        return False
    return caller in ROLE_OF and role_at_least(ROLE_OF[caller], need)


def _url(path: str) -> str:
    values = {"project": "alpha", "sha256": "0" * 64}
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x1"), path)


def test_every_mounted_route_has_a_rule_and_no_rule_is_stale() -> None:
    mounted = set(_routes())
    assert mounted, "no routes found"
    missing = mounted - set(ROUTE_ROLES)
    assert not missing, f"routes without an access rule (they would be refused): {missing}"
    stale = set(ROUTE_ROLES) - mounted
    assert not stale, f"rules for routes the app does not mount: {stale}"


def test_each_caller_is_allowed_or_refused_as_the_table_says(cast: Any) -> None:
    tokens = {**cast.tokens, "bad": "keel_000000000000_" + "A" * 43}
    problems: list[str] = []
    with httpx.Client(base_url=cast.server.url, timeout=30) as http:
        for method, path in sorted(_routes()):
            need = ROUTE_ROLES[(method, path)]
            for caller in CALLERS:
                if caller == "bad":
                    continue  # failed logins are limited: checked once below
                headers = {} if caller is None else {"Authorization": f"Bearer {tokens[caller]}"}
                body: dict[str, Any] = {"json": {}} if method in ("POST", "PUT") else {}
                answer = http.request(method, _url(path), headers=headers, **body)
                status = answer.status_code
                if status >= 500:
                    problems.append(f"{method} {path} as {caller}: {status} {answer.text[:200]}")
                elif _allowed(need, caller) and status in (401, 403):
                    problems.append(f"{method} {path} as {caller}: refused {status}, rule {need}")
                elif not _allowed(need, caller) and status not in (401, 403):
                    problems.append(f"{method} {path} as {caller}: {status}, rule {need}")
                elif not _allowed(need, caller) and caller is None and status != 401:
                    problems.append(f"{method} {path} without a token: {status}, not 401")
    assert not problems, "\n".join(problems)


def test_a_bad_token_is_401_everywhere_but_public_routes(cast: Any) -> None:
    bad = {"Authorization": "Bearer keel_000000000000_" + "A" * 43}
    with httpx.Client(base_url=cast.server.url, timeout=30) as http:
        for method, path in [("GET", "/api/v1/whoami"), ("GET", "/api/v1/projects/alpha/runs/x")]:
            assert http.request(method, path, headers=bad).status_code == 401
        assert http.get("/health", headers=bad).status_code == 200


def test_a_route_without_a_rule_is_refused_to_everyone(
    cast: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default deny, shown in process: drop one rule and even the server admin is refused."""
    import asyncio

    from keel.config import Settings

    key = ("GET", "/api/v1/projects/{project}/experiments")
    monkeypatch.delitem(ROUTE_ROLES, key)
    app = create_app(Settings(store_uri=cast.server.store_uri, home=cast.server.home))
    app.state.hub.open()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as local:
            return await local.get(
                "/api/v1/projects/alpha/experiments", headers=cast.headers("server_admin")
            )

    try:
        answer = asyncio.run(call())
    finally:
        app.state.hub.close()
    assert answer.status_code == 403
    assert "no access rule" in answer.json()["detail"]
