"""Building a ``Store`` for a URI: the SQL backend for ``sqlite``/``postgresql`` URIs, the
REST client of a keel server for ``http(s)`` URLs.

Backend-only options stay here: the SQLite ``synchronous`` pragma is read from the
settings on the SQL path, and nothing about it reaches the generic interface.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from keel._redact import safe_uri
from keel.errors import InvalidArgumentError
from keel.store._interfaces import Store

if TYPE_CHECKING:
    from keel.config import Settings

__all__ = ["build_store"]

#: The module and class of the keel server's REST store, imported only for http(s) URIs.
_REST_BACKEND = ("keel.store.rest", "RestStore")


def build_store(uri: str, *, project: str, settings: Settings | None) -> Store:
    """The store for ``uri`` bound to ``project`` (no I/O); see :func:`keel.store.open_store`."""
    if uri.startswith(("postgresql://", "postgres://")):
        uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith(("sqlite:///", "postgresql+psycopg://")):
        return _sql_store(uri, project, settings)
    if uri.startswith(("http://", "https://")):
        return _rest_store(uri, project, settings)
    raise InvalidArgumentError(
        f"store URI {safe_uri(uri)!r} has an unknown scheme; use sqlite:///PATH, "
        "postgresql://USER@HOST:PORT/DB or a keel server's http(s)://HOST:PORT"
    )


def _sql_store(uri: str, project: str, settings: Settings | None) -> Store:
    from keel.store._sql import SqlStore

    synchronous = settings.sqlite_synchronous if settings is not None else "NORMAL"
    return SqlStore(uri, sqlite_synchronous=synchronous, project=project)


def _rest_store(uri: str, project: str, settings: Settings | None) -> Store:
    module_name, class_name = _REST_BACKEND
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise InvalidArgumentError(
            f"store URI {safe_uri(uri)!r} is a keel server, but this installation of keel "
            f"has no REST store ({module_name}); upgrade keel, or set KEEL_STORE_URI to "
            "sqlite:///PATH or postgresql://..."
        ) from None
    store: Store = getattr(module, class_name)(uri, project=project, settings=settings)
    return store
