"""The ``keel`` command line (Typer + Rich)."""

from __future__ import annotations

from keel.cli._app import app, main

__all__ = ["app", "main"]
