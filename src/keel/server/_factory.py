"""Building the app in each uvicorn worker, from what ``keel server`` put in the environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING

from keel.server._app import ServerOptions, create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["OPTIONS_VARIABLE", "app_from_environment", "options_to_environment"]

#: the environment variable carrying the server's options to its workers (JSON)
OPTIONS_VARIABLE = "KEEL_SERVER_OPTIONS"


def options_to_environment(options: ServerOptions) -> None:
    """Put ``options`` where :func:`app_from_environment` finds them."""
    os.environ[OPTIONS_VARIABLE] = json.dumps(asdict(options))


def app_from_environment() -> FastAPI:
    """The app for one worker (uvicorn's ``factory=True`` target)."""
    raw = os.environ.get(OPTIONS_VARIABLE)
    options = ServerOptions(**json.loads(raw)) if raw else ServerOptions()
    return create_app(options=options)
