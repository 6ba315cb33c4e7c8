"""A real ``keel server`` per test module, and a cast of users with roles in two projects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keel_server import KeelServer


@dataclass(frozen=True)
class Cast:
    """Tokens of users with every role in project ``alpha``, and one member of ``beta`` only.

    Attributes:
        server: the running server.
        tokens: who -> API token: ``viewer``, ``editor``, ``maintainer``, ``admin`` (users
            holding that role in alpha), ``outsider`` (admin of beta, nothing in alpha),
            ``server_admin`` (the first administrator).
    """

    server: KeelServer
    tokens: dict[str, str]

    def store(self, who: str, project: str = "alpha") -> Any:
        """A RestStore acting as ``who`` in ``project``."""
        return self.server.client(self.tokens[who], project)

    def headers(self, who: str | None) -> dict[str, str]:
        """The Authorization header of ``who`` (none for ``None``)."""
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}


#: who -> the user's name (the first administrator is called ``admin``)
USERS = {
    "viewer": "vic",
    "editor": "eddie",
    "maintainer": "max",
    "admin": "ada",
    "outsider": "otto",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    """One server (SQLite, its own folder) for the whole module."""
    running = KeelServer(tmp_path_factory.mktemp("server")).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


def make_cast(server: KeelServer) -> Cast:
    """Create projects alpha and beta, one user per role in alpha, and an outsider in beta."""
    from keel.context import Context
    from keel.governance import create_token, create_user, grant_role

    admin = server.client()
    tokens = {"server_admin": server.admin_token}
    admin.access.create_project("alpha", "", actor="-")
    admin.access.create_project("beta", "", actor="-")
    alpha = server.client(project="alpha")
    beta = server.client(project="beta")
    with Context(store=admin) as ctx:
        for who, name in USERS.items():
            create_user(name, context=ctx)
            _, tokens[who] = create_token("e2e", user=name, context=ctx)
    with Context(store=alpha, project="alpha") as ctx:
        grant_role(USERS["admin"], "admin", context=ctx)  # a project's first grant: its admin
        for role in ("viewer", "editor", "maintainer"):
            grant_role(USERS[role], role, context=ctx)
    with Context(store=beta, project="beta") as ctx:
        grant_role(USERS["outsider"], "admin", context=ctx)
    for s in (admin, alpha, beta):
        s.close()
    return Cast(server, tokens)


@pytest.fixture(scope="module")
def cast(server: KeelServer) -> Cast:
    """The module's users, roles and tokens."""
    return make_cast(server)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder of the test's own (the client's side)."""
    return tmp_path
