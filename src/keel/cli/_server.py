"""``keel server`` (run the team server) and ``keel login`` / ``keel logout`` (use one)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from keel.config import Settings

__all__ = ["login_command", "logout_command", "server_command"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_command(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    store: Annotated[
        str | None, typer.Option("--store", help="Metadata store URI (default: KEEL_STORE_URI).")
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts",
            help="Artifact root, a folder or s3:// URL (default: KEEL_ARTIFACT_ROOT).",
        ),
    ] = None,
    init_admin: Annotated[
        bool,
        typer.Option(
            "--init-admin", help="Create the first server administrator and print its token once."
        ),
    ] = False,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth", help="No tokens: every caller is an administrator (loopback only)."
        ),
    ] = False,
    max_body_mb: Annotated[
        int, typer.Option(help="Largest JSON request body, in MiB.", min=1, max=4096)
    ] = 32,
    max_upload_mb: Annotated[
        int, typer.Option(help="Largest artifact upload, in MiB.", min=1, max=10_000_000)
    ] = 51_200,
    check: Annotated[
        bool,
        typer.Option("--check", help="Open the store and the artifact root, report, and exit."),
    ] = False,
) -> None:
    """Run keel's team server: the metadata store, artifacts and governed services over HTTP."""
    from keel.config import load_settings
    from keel.errors import InvalidArgumentError

    if no_auth and not _is_loopback(host):
        raise InvalidArgumentError(
            f"refusing to listen on {host} with authentication off: anyone who can reach it "
            "could read and change every project; drop --no-auth (clients then need tokens) "
            "or bind 127.0.0.1"
        )
    overrides = {k: v for k, v in (("store_uri", store), ("artifact_root", artifacts)) if v}
    settings = load_settings(**overrides)
    if settings.resolved_store_uri().startswith(("http://", "https://")):
        raise InvalidArgumentError(
            "the server's store must be a database (sqlite:/// or postgresql://), not another "
            "server; pass --store or set KEEL_STORE_URI"
        )
    import os

    for key, value in overrides.items():
        os.environ[f"KEEL_{key.upper()}"] = value
    if check:
        _check(settings)
        return
    _require_server_extra()
    if init_admin:
        _print_first_admin(settings)

    import uvicorn

    from keel.server._app import ServerOptions
    from keel.server._factory import options_to_environment

    options_to_environment(
        ServerOptions(
            auth=not no_auth,
            max_body_bytes=max_body_mb * 1024**2,
            max_upload_bytes=max_upload_mb * 1024**2,
        )
    )
    from keel._redact import safe_uri
    from keel.cli._render import console

    console(stderr=True).print(
        f"keel server on http://{host}:{port} (store {safe_uri(settings.resolved_store_uri())}, "
        f"artifacts {safe_uri(settings.resolved_artifact_root())}, "
        f"{'NO authentication' if no_auth else 'token authentication'})"
    )
    uvicorn.run(
        "keel.server._factory:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


def _require_server_extra() -> None:
    """Refuse to start (before creating anything) where the ``server`` extra is missing."""
    import importlib.util

    from keel.errors import MissingExtraError

    for package in ("fastapi", "uvicorn"):
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError(
                f"keel server needs {package}, which is not installed; install the server "
                "with: pip install 'keel[server]'"
            )


def _check(settings: Settings) -> None:
    """Open what the server would open (migrating the store) and say what was found."""
    from keel._redact import safe_uri
    from keel.context import Context

    with Context(settings) as ctx:
        projects = ctx.store.access.list_projects()
        admins = [u.name for u in ctx.store.access.list_users() if u.admin and not u.disabled]
        probe = ctx.artifacts.put_bytes(b"keel server --check")
        ctx.artifacts.get_bytes(probe.sha256)
    typer.echo(
        f"store {safe_uri(settings.resolved_store_uri())}: ok ({len(projects)} project(s), "
        f"administrators: {', '.join(admins) or 'none yet (keel server --init-admin)'})\n"
        f"artifact root {safe_uri(settings.resolved_artifact_root())}: writable, verified read"
    )


def _print_first_admin(settings: Settings) -> None:
    from keel.context import Context
    from keel.governance import bootstrap_admin

    with Context(settings) as ctx:
        user, secret = bootstrap_admin(ctx)
    typer.echo(
        f"created server administrator {user!r}; its API token (shown once, keep it safe):\n"
        f"{secret}"
    )


def login_command(
    url: Annotated[str, typer.Argument(help="The server's URL, e.g. http://keel.example:8080")],
    token: Annotated[
        str | None,
        typer.Option("--token", help="The API token (asked for, hidden, when not given)."),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="The project to work in (default: default).")
    ] = None,
) -> None:
    """Use a keel server from now on: check the token and keep it in your config (0600)."""
    from keel._user_config import save_login

    secret = token or typer.prompt("API token", hide_input=True)
    from keel._transport import RetryPolicy
    from keel.store.rest import RestStore

    store = RestStore(
        url,
        project=project or "default",
        token=secret.strip(),
        retry=RetryPolicy(attempts=2, deadline=10.0),
    )
    try:
        identity = store.call_service("whoami", {})
    finally:
        store.close()
    path: Path = save_login(url, secret.strip(), project)
    typer.echo(
        f"logged in to {url} as {identity['user']} (role {identity['role']} in project "
        f"{identity['project']!r}); saved in {path}"
    )


def logout_command() -> None:
    """Forget the saved server and token (work on the embedded store again)."""
    from keel._user_config import forget_login

    path = forget_login()
    typer.echo(f"logged out; {path} no longer names a server" if path else "not logged in")
