"""``keel server``: one team server for the Store, artifacts and governed services.

A FastAPI application (:func:`create_app`) that serves every Store domain under
``/api/v1/projects/{project}``, artifact bytes streamed and verified on both ends, the
services whose verdicts must not be the client's (promotion gates), and the server-wide
routes for users, tokens and projects, all behind bearer tokens and one access table.
The REST store (``KEEL_STORE_URI=http://...``) is its client.
"""

from __future__ import annotations

from keel.server._app import ServerOptions, create_app

__all__ = ["ServerOptions", "create_app"]
