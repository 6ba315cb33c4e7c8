"""``keel server``, ``keel login|logout``, ``keel users|tokens|projects`` and ``--project``."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keel_server import KEEL, KeelServer


def keel(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, input=stdin
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    running = KeelServer(tmp_path_factory.mktemp("cli-server")).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment: no KEEL_* variables, a config file of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_USER_CONFIG"] = str(tmp_path / "config" / "keel" / "config.toml")
    env["KEEL_HOME"] = str(tmp_path / "home")
    return env


def test_serving_any_address_without_authentication_is_refused(tmp_path: Path) -> None:
    proc = keel("server", "--host", "0.0.0.0", "--no-auth", env=dict(os.environ), cwd=tmp_path)
    assert proc.returncode == 1
    assert "refusing to listen on 0.0.0.0 with authentication off" in proc.stderr


def test_a_second_init_admin_is_refused(server: KeelServer, tmp_path: Path) -> None:
    env = {**os.environ, "KEEL_HOME": str(server.home), "KEEL_STORE_URI": server.store_uri}
    proc = keel("server", "--init-admin", "--port", "1", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "a server administrator exists already (admin)" in proc.stderr


def test_check_reports_the_store_and_artifacts(server: KeelServer, tmp_path: Path) -> None:
    env = {**os.environ, "KEEL_HOME": str(server.home), "KEEL_STORE_URI": server.store_uri}
    proc = keel("server", "--check", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "administrators: admin" in proc.stdout and "writable, verified read" in proc.stdout


def test_login_keeps_the_token_private_and_logout_forgets_it(
    server: KeelServer, user_env: dict[str, str], tmp_path: Path
) -> None:
    wrong = keel(
        "login", server.url, "--token", "keel_000000000000_" + "A" * 43, env=user_env, cwd=tmp_path
    )
    assert wrong.returncode == 1 and "not valid" in wrong.stderr
    config = Path(user_env["KEEL_USER_CONFIG"])
    assert not config.exists()  # a refused token is not saved

    done = keel("login", server.url, env=user_env, cwd=tmp_path, stdin=server.admin_token + "\n")
    assert done.returncode == 0, done.stderr
    assert "logged in to" in done.stdout and "as admin" in done.stdout
    assert server.admin_token not in done.stdout + done.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    # every command now uses the server, with nothing else set
    made = keel("projects", "create", "login-test", env=user_env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    listed = keel("projects", "list", env=user_env, cwd=tmp_path)
    assert "login-test" in listed.stdout
    assert not (Path(user_env["KEEL_HOME"]) / "keel.db").exists()
    config.chmod(0o644)  # readable by others: refused until fixed
    leaky = keel("projects", "list", env=user_env, cwd=tmp_path)
    assert leaky.returncode == 1 and "chmod 600" in leaky.stderr
    config.chmod(0o600)
    out = keel("logout", env=user_env, cwd=tmp_path)
    assert out.returncode == 0 and not config.exists()


def test_users_tokens_projects_and_roles_from_the_cli(
    server: KeelServer, user_env: dict[str, str], tmp_path: Path
) -> None:
    admin = {**user_env, "KEEL_STORE_URI": server.url, "KEEL_TOKEN": server.admin_token}
    created = keel("users", "create", "carol", env=admin, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("keel_")
    assert keel("projects", "create", "fraud", env=admin, cwd=tmp_path).returncode == 0
    granted = keel(
        "--project", "fraud", "roles", "grant", "carol", "editor", env=admin, cwd=tmp_path
    )
    assert granted.returncode == 0, granted.stderr
    members = keel("projects", "members", "fraud", env=admin, cwd=tmp_path)
    assert "carol" in members.stdout and "editor" in members.stdout

    carol = {
        **user_env,
        "KEEL_STORE_URI": server.url,
        "KEEL_TOKEN": secret,
        "KEEL_PROJECT": "fraud",
    }
    mine = keel(
        "tokens", "create", "--name", "laptop", "--expires-days", "1", env=carol, cwd=tmp_path
    )
    assert mine.returncode == 0, mine.stderr
    laptop = mine.stdout.strip().splitlines()[-1]
    listed = keel("tokens", "list", env=carol, cwd=tmp_path)
    assert "laptop" in listed.stdout and laptop not in listed.stdout
    assert laptop.split("_")[1] in listed.stdout  # the id, never the secret
    # an editor may not create users or projects, nor grant roles
    assert "server administrator" in keel("users", "create", "eve", env=carol, cwd=tmp_path).stderr
    refused = keel("roles", "grant", "carol", "admin", env=carol, cwd=tmp_path)
    assert refused.returncode == 1 and "needs the admin role" in refused.stderr

    token_id = laptop.split("_")[1]
    assert keel("tokens", "revoke", token_id, env=carol, cwd=tmp_path).returncode == 0
    whoami = httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {laptop}"})
    assert whoami.status_code == 401
    assert keel("users", "disable", "carol", env=admin, cwd=tmp_path).returncode == 0
    gone = keel("projects", "list", env=carol, cwd=tmp_path)
    assert gone.returncode == 1 and "not valid" in gone.stderr
    users = keel("users", "list", env=admin, cwd=tmp_path)
    assert "carol" in users.stdout and "yes" in users.stdout


def test_the_first_administrator_can_be_made_where_the_store_is(tmp_path: Path) -> None:
    """`keel users create NAME --admin` on the database itself prints the first token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(KEEL_HOME=str(tmp_path / "srv"), KEEL_USER_CONFIG=str(tmp_path / "uc.toml"))
    made = keel("users", "create", "root-admin", "--admin", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    server = KeelServer(tmp_path / "srv").start()
    try:
        whoami = httpx.get(
            f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}
        )
        assert whoami.status_code == 200 and whoami.json()["admin"] is True
    finally:
        server.stop()
