"""The ``keel`` command line (Typer + Rich)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.cli._app import main

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    # The full app is built on first use (``main`` builds only what a command needs).
    if name == "app":
        from keel.cli._app import _full_app

        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
