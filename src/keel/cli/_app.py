"""The root ``keel`` command and the error handling every sub-command shares.

Each domain adds its commands as a Typer sub-app registered in :func:`_register`.
Sub-apps import their heavy libraries inside the command functions, so
``keel --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from keel._version import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="keel",
    help="keel: a self-hosted machine-learning platform. Track, version, train, register, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """keel: datasets, experiments, models, deployments and monitoring in one tool."""
    if debug:
        os.environ["KEEL_DEBUG"] = "1"


def _register() -> None:
    from keel.cli import _db, _tracking

    app.add_typer(_tracking.experiments_app, name="experiments")
    app.add_typer(_tracking.runs_app, name="runs")
    app.add_typer(_db.db_app, name="db")

    from keel.cli._datasets import datasets_app

    app.add_typer(datasets_app, name="datasets")
    app.command("doctor")(_db.doctor)

    from keel.cli._pipelines import pipelines_app

    app.add_typer(pipelines_app, name="pipelines")

    from keel.cli import _audit, _lineage, _models

    app.add_typer(_models.models_app, name="models")
    app.add_typer(_audit.audit_app, name="audit")
    app.add_typer(_audit.roles_app, name="roles")
    app.command("lineage")(_lineage.lineage)

    from keel.cli._train import train_command

    app.command("train")(train_command)


_register()


def main() -> None:
    """Entry point of the ``keel`` console script: KeelErrors become one clean line.

    Typer runs in standalone mode, so it reports usage errors itself (the usage line,
    the problem, exit status 2) with whichever Click it ships; keel never imports
    ``click``, which Typer 0.26+ vendors instead of depending on.
    """
    from keel.errors import KeelError

    debug = "--debug" in sys.argv or os.environ.get("KEEL_DEBUG") == "1"
    _hide_flag_types()
    try:
        app(prog_name="keel")
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
    """``message`` with the secrets of the configured URIs masked.

    Every layer already shows URIs through :func:`keel._redact.safe_uri`; this is the
    last line of defence for text keel does not write itself (a driver's error).
    """
    from keel._redact import redact

    uris = [os.environ.get("KEEL_STORE_URI", ""), os.environ.get("KEEL_ARTIFACT_ROOT", "")]
    try:
        from keel.config import load_settings

        settings = load_settings()
        uris += [settings.resolved_store_uri(), settings.resolved_artifact_root()]
    except Exception:  # a broken configuration is reported by the error being shown
        pass
    for uri in uris:
        if uri:
            message = redact(message, uri)
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
