"""``keel db upgrade`` and ``keel doctor``."""

from __future__ import annotations

import typer

__all__ = ["db_app", "doctor"]

db_app = typer.Typer(help="Manage the metadata database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations to the configured store."""
    from keel.config import load_settings
    from keel.store import open_store, upgrade_store

    settings = load_settings()
    store = open_store(settings.resolved_store_uri(), project=settings.project, settings=settings)
    heads = upgrade_store(store)
    store.close()
    typer.echo(f"{store.uri} is at {', '.join(heads)}")


def doctor() -> None:
    """Show the configuration in force and check that every part is reachable."""
    import importlib.util
    import shutil
    import socket

    from rich.markup import escape
    from rich.table import Table

    from keel._redact import safe_token, safe_uri
    from keel.cli._render import console
    from keel.config import _toml_path, load_settings

    settings = load_settings()
    out = console()
    table = Table(title="keel configuration", show_header=False)
    table.add_column("setting", style="bold")
    table.add_column("value")
    table.add_row(
        "config file", f"{_toml_path()} ({'found' if _toml_path().exists() else 'not present'})"
    )
    table.add_row("home", str(settings.home.absolute()))
    table.add_row("store", safe_uri(settings.resolved_store_uri()))
    table.add_row("artifact root", safe_uri(settings.resolved_artifact_root()))
    table.add_row(
        "metric flush",
        f"every {settings.metric_flush_interval}s or {settings.metric_flush_size} values",
    )
    table.add_row("project", settings.project)
    table.add_row("actor", settings.resolved_actor())
    table.add_row("token", safe_token(settings.token))
    out.print(table)

    checks = Table(title="checks")
    for col in ("check", "status", "detail"):
        checks.add_column(col)
    ok = True

    def row(name: str, passed: bool | None, detail: str) -> None:
        nonlocal ok
        mark = {True: "[green]ok[/]", False: "[red]fail[/]", None: "[dim]absent[/]"}[passed]
        ok = ok and passed is not False
        checks.add_row(name, mark, detail)

    from keel.errors import KeelError
    from keel.store import open_store

    try:
        store = open_store(
            settings.resolved_store_uri(), project=settings.project, settings=settings
        )
        store.open()
        n = len(store.tracking.list_experiments())
        store.close()
        row("metadata store", True, f"{store.uri}: schema up to date, {n} experiment(s)")
    except KeelError as exc:
        row("metadata store", False, str(exc))
    try:
        from keel.artifacts import open_artifacts

        arts = open_artifacts(settings.resolved_artifact_root(), settings)
        obj = arts.put_bytes(b"keel doctor")
        arts.get_bytes(obj.sha256)
        row(
            "artifact root",
            True,
            f"{safe_uri(settings.resolved_artifact_root())}: writable, verified read",
        )
    except (KeelError, OSError) as exc:
        row("artifact root", False, str(exc))
    for name, port in (("postgresql", 5432), ("redis", 6379)):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                row(f"{name} (127.0.0.1:{port})", True, "listening")
        except OSError:
            row(f"{name} (127.0.0.1:{port})", None, "not running (only needed to scale out)")
    for extra, module in (
        ("data", "polars"),
        ("training", "optuna"),
        ("torch", "torch"),
        ("onnx", "skl2onnx"),
    ):
        found = importlib.util.find_spec(module) is not None
        checks.add_row(
            f"extra: {extra}",
            "[green]installed[/]" if found else "[dim]not installed[/]",
            "" if found else escape(f"pip install 'keel[{extra}]'"),
        )
    git = shutil.which("git")
    checks.add_row(
        "git",
        "[green]found[/]" if git else "[dim]absent[/]",
        "runs record commits" if git else "runs will not record source commits",
    )
    out.print(checks)
    if not ok:
        raise typer.Exit(1)
