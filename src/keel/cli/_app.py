"""The root ``keel`` command and the error handling every sub-command shares.

Each domain adds its commands as a Typer sub-app, listed in :data:`_SUBCOMMANDS`.
Sub-apps import their heavy libraries inside the command functions, so
``keel --help`` stays fast; and :func:`main` builds only the one sub-app a command
line names (Typer converts every registered command, its signature and type hints,
on each call: 0.05 s for all of them), so ``keel runs list`` does not pay for the
other thirty commands.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keel._version import __version__

if TYPE_CHECKING:
    app: typer.Typer

__all__ = ["app", "main"]

# name -> (module, attribute, kind), in the order `keel --help` lists them.
_SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "experiments": ("keel.cli._tracking", "experiments_app", "group"),
    "runs": ("keel.cli._tracking", "runs_app", "group"),
    "db": ("keel.cli._db", "db_app", "group"),
    "datasets": ("keel.cli._datasets", "datasets_app", "group"),
    "doctor": ("keel.cli._db", "doctor", "command"),
    "pipelines": ("keel.cli._pipelines", "pipelines_app", "group"),
    "models": ("keel.cli._models", "models_app", "group"),
    "audit": ("keel.cli._audit", "audit_app", "group"),
    "roles": ("keel.cli._audit", "roles_app", "group"),
    "features": ("keel.cli._features", "features_app", "group"),
    "lineage": ("keel.cli._lineage", "lineage", "command"),
    "train": ("keel.cli._train", "train_command", "command"),
    "endpoints": ("keel.cli._endpoints", "endpoints_app", "group"),
    "serve": ("keel.cli._serving", "serve_command", "command"),
    "predict": ("keel.cli._serving", "predict_command", "command"),
    "server": ("keel.cli._server", "server_command", "command"),
    "login": ("keel.cli._server", "login_command", "command"),
    "logout": ("keel.cli._server", "logout_command", "command"),
    "users": ("keel.cli._access", "users_app", "group"),
    "tokens": ("keel.cli._access", "tokens_app", "group"),
    "projects": ("keel.cli._access", "projects_app", "group"),
    "drift": ("keel.cli._drift", "drift_command", "command"),
    "monitors": ("keel.cli._monitors", "monitors_app", "group"),
    "monitor": ("keel.cli._monitors", "monitor_app", "group"),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keel {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    project: Annotated[
        str | None,
        typer.Option(
            "--project", help="The project to work in (default: KEEL_PROJECT, else default)."
        ),
    ] = None,
) -> None:
    """keel: datasets, experiments, models, deployments and monitoring in one tool."""
    if debug:
        os.environ["KEEL_DEBUG"] = "1"
    if project is not None:
        os.environ["KEEL_PROJECT"] = project


def _build_app(only: str | None = None) -> typer.Typer:
    """The ``keel`` Typer app with every sub-command, or with only the one named ``only``."""
    root = typer.Typer(
        name="keel",
        help="keel: a self-hosted machine-learning platform. Track, version, train, register, serve.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        add_completion=False,
    )
    root.callback()(_root)
    for name, (module, attribute, kind) in _SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if kind == "group":
            root.add_typer(target, name=name)
        else:
            root.command(name)(target)
    return root


@functools.cache
def _full_app() -> typer.Typer:
    return _build_app()


def __getattr__(name: str) -> Any:
    # ``app`` (every command) is built on first use: the console script does not need it.
    if name == "app":
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _app_for(args: list[str]) -> typer.Typer:
    """The app for a command line: only the sub-command it names, when it names one.

    The root options are flags, but for ``--project NAME``, so the first word that is
    neither an option nor a project's name is the sub-command. Anything else (``keel``, ``keel --help``, a typo) gets
    every command, for the full help and Typer's "did you mean" suggestions.
    """
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--project":
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    if words and words[0] in _SUBCOMMANDS:
        return _build_app(only=words[0])
    return _full_app()


def main() -> None:
    """Entry point of the ``keel`` console script: KeelErrors become one clean line.

    Typer runs in standalone mode, so it reports usage errors itself (the usage line,
    the problem, exit status 2) with whichever Click it ships; keel never imports
    ``click``, which Typer 0.26+ vendors instead of depending on.
    """
    from keel.errors import KeelError

    debug = "--debug" in sys.argv or os.environ.get("KEEL_DEBUG") == "1"
    from keel.cli._warnings import show_keel_warnings_on_one_line

    show_keel_warnings_on_one_line()
    _hide_flag_types()
    try:
        _app_for(sys.argv[1:])(prog_name="keel")
    except KeelError as exc:
        if debug:
            raise
        from keel.cli._render import print_error

        print_error(_scrub(str(exc)))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        from keel.cli._render import print_error

        print_error(
            _scrub(
                f"unexpected error: {type(exc).__name__}: {exc} "
                "(rerun with --debug for the traceback)"
            )
        )
        sys.exit(1)


def _scrub(message: str) -> str:
    """``message`` with the secrets of the configured URIs and the API token masked.

    Every layer already shows URIs through :func:`keel._redact.safe_uri`; this is the
    last line of defence for text keel does not write itself (a driver's error).
    """
    from keel._redact import redact, redact_token

    uris = [os.environ.get("KEEL_STORE_URI", ""), os.environ.get("KEEL_ARTIFACT_ROOT", "")]
    tokens = [os.environ.get("KEEL_TOKEN", "")]
    try:
        from keel.config import load_settings

        settings = load_settings()
        uris += [settings.resolved_store_uri(), settings.resolved_artifact_root()]
        tokens.append(settings.token or "")
    except Exception:  # a broken configuration is reported by the error being shown
        pass
    for uri in uris:
        if uri:
            message = redact(message, uri)
    for token in tokens:
        message = redact_token(message, token.strip() or None)
    return message


def _hide_flag_types() -> None:
    """Leave the type column empty for plain flags in ``--help``.

    Typer 0.29 shows ``--json <bool>``: a flag takes no value, so the type only
    misleads. Typer's plain-text help already leaves it out; this does the same for
    its Rich help, which has no setting for it. Idempotent; a Typer without the hook
    is left alone.
    """
    from typer import core

    option = getattr(core, "TyperOption", None)
    original = getattr(option, "display_type_rich", None)
    if option is None or original is None or getattr(original, "_keel_flags", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        result: str | None = original(self, ctx)
        return result

    display_type_rich._keel_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich
