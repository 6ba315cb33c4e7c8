"""Artifact bytes: content-addressed by sha256, written atomically, verified on read.

:class:`ArtifactStore` is the interface; :func:`open_artifacts` picks the backend for a
root: :class:`FsspecArtifactStore` for a folder or an fsspec URL (``s3://...``), the HTTP
client of a keel server for ``http://`` and ``https://``.

Example::

    >>> from keel.artifacts import open_artifacts
    >>> store = open_artifacts("/tmp/keel-artifacts")
    >>> store.get_bytes(store.put_bytes(b"hi").sha256)
    b'hi'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from keel._paths import check_artifact_path
from keel.artifacts._cache import DEFAULT_MAX_BYTES, ObjectCache, VerifiedFiles, sha256_file
from keel.artifacts._fsspec import FsspecArtifactStore
from keel.artifacts._store import ArtifactStore, StoredObject

if TYPE_CHECKING:
    from keel.config import Settings

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ArtifactStore",
    "FsspecArtifactStore",
    "ObjectCache",
    "StoredObject",
    "VerifiedFiles",
    "check_artifact_path",
    "open_artifacts",
    "sha256_file",
]

#: The module and class of the keel server's artifact client, imported only for
#: ``http(s)://`` roots (it pulls in the HTTP client library).
_HTTP_BACKEND = ("keel.artifacts._http", "HttpArtifactStore")


def open_artifacts(
    root: str, settings: Settings | None = None, *, project: str | None = None
) -> ArtifactStore:
    """The artifact store for a root, chosen by its scheme (no I/O until it is used).

    Args:
        root: a folder, an fsspec URL (``s3://bucket/keel``, ``memory://...``) or a keel
            server's URL (``http://host:8080``, ``https://...``).
        settings: the settings in force (this user's cache folder, the server token);
            read from the environment when needed otherwise.
        project: for a keel server's root, the project whose bytes these are
            (``settings.project`` when ``None``); other roots hold every project's bytes.

    Raises:
        InvalidArgumentError: an ``http(s)://`` root, and this keel has no HTTP client.

    Example::

        >>> open_artifacts("/tmp/keel-artifacts")
        FsspecArtifactStore('/tmp/keel-artifacts')
    """
    scheme = root.split("://", 1)[0].lower() if "://" in root else ""
    if scheme in ("http", "https"):
        module_name, class_name = _HTTP_BACKEND
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            from keel._redact import safe_uri
            from keel.errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"artifact root {safe_uri(root)!r} is a keel server, but this installation "
                f"of keel has no HTTP artifact client ({module_name}); upgrade keel, or set "
                "KEEL_ARTIFACT_ROOT to a folder or an s3:// URL"
            ) from None
        store: ArtifactStore = getattr(module, class_name)(root, settings=settings, project=project)
        return store
    return FsspecArtifactStore(root, settings=settings)
