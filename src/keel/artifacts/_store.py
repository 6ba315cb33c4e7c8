"""The interface of artifact storage: content-addressed bytes, verified on every read.

An :class:`ArtifactStore` keeps immutable objects named by the sha256 of their bytes.
Every layer above reads and writes bytes only through it, so the same code works on a
local folder, an ``s3://`` bucket (:class:`~keel.artifacts.FsspecArtifactStore`) and a
keel server (``keel.artifacts._http.HttpArtifactStore``). Pick one for a root with
:func:`keel.artifacts.open_artifacts`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["ArtifactStore", "StoredObject"]


class StoredObject:
    """The sha256 and size of bytes put into an :class:`ArtifactStore`."""

    __slots__ = ("sha256", "size")

    def __init__(self, sha256: str, size: int) -> None:
        self.sha256 = sha256
        self.size = size

    def __repr__(self) -> str:
        return f"StoredObject(sha256={self.sha256!r}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredObject):
            return NotImplemented
        return (self.sha256, self.size) == (other.sha256, other.size)

    def __hash__(self) -> int:
        return hash((self.sha256, self.size))


class ArtifactStore(abc.ABC):
    """Immutable bytes by sha256: written atomically, verified whenever they are read.

    Objects never change once written, so any copy of one (a download, a cached copy)
    stays valid as long as its bytes hash to its name. ``name`` arguments say what an
    object is (``"dataset iris/3"``, ``"artifact 'plots/roc.png'"``) for error messages.

    Example::

        >>> from keel.artifacts import open_artifacts
        >>> store = open_artifacts("/tmp/keel-artifacts")
        >>> obj = store.put_bytes(b"hello")
        >>> store.get_bytes(obj.sha256)
        b'hello'
    """

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release what the store holds open (connections). Idempotent; a store is
        usable again after it (it reconnects on the next call)."""

    @property
    @abc.abstractmethod
    def root(self) -> str:
        """Where the objects live: a folder, an fsspec URL or a server URL.

        It may carry credentials: show it to people only through
        :func:`keel._redact.safe_uri`.
        """

    @abc.abstractmethod
    def put_stream(self, stream: IO[bytes]) -> StoredObject:
        """Store the bytes read from ``stream`` (to its end).

        Args:
            stream: a binary stream, read in chunks (never whole into memory).

        Returns:
            The sha256 and size of the bytes. Identical content is stored once.
        """

    @abc.abstractmethod
    def put_file(self, path: str | Path) -> StoredObject:
        """Store a copy of a local file.

        Args:
            path: the file; it must not change while being stored.

        Returns:
            The sha256 and size of its bytes.
        """

    @abc.abstractmethod
    def put_bytes(self, data: bytes) -> StoredObject:
        """Store bytes held in memory.

        Returns:
            Their sha256 and size.
        """

    @abc.abstractmethod
    def put_local_file(
        self, path: str | Path, sha256: str | None = None, *, move: bool = True
    ) -> StoredObject:
        """Store a local file, taking it over (``move=True``) instead of copying it where
        the backend can (a local root on the same filesystem: one rename, no copy).

        Args:
            path: the file; it must not change while being stored.
            sha256: its sha256 if the caller has just computed it while writing it. It is
                trusted: a wrong value files the bytes under a wrong address.
            move: take the file over: it is gone from ``path`` afterwards, whether it
                was renamed or copied.

        Returns:
            The sha256 and size of the bytes.
        """

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether an object with this sha256 is stored."""

    @abc.abstractmethod
    def get_bytes(self, sha256: str, name: str = "artifact") -> bytes:
        """The whole object in memory, verified against its sha256.

        Args:
            sha256: the object.
            name: what it is, for messages.

        Raises:
            NotFoundError: no object has this sha256 (it was deleted, or the root changed).
            ArtifactCorruptedError: the stored bytes do not hash to ``sha256``.
        """

    @abc.abstractmethod
    def open_chunks(self, sha256: str, name: str = "artifact") -> Iterator[bytes]:
        """The object's bytes in chunks, hashed as they are read.

        The chunks are handed out as they arrive; the sha256 can only be checked after
        the last one, so a consumer must not trust what it read (nor keep it) until the
        iterator is exhausted without an error.

        Args:
            sha256: the object.
            name: what it is, for messages.

        Raises:
            NotFoundError: no object has this sha256 (raised before the first chunk).
            ArtifactCorruptedError: at the end, when the bytes do not hash to ``sha256``.
        """

    @abc.abstractmethod
    def download(self, sha256: str, dest: str | Path, name: str = "artifact") -> Path:
        """Copy the object to the local file ``dest``, verified before it appears there.

        Args:
            sha256: the object.
            dest: the file to write (its folder is created); replaced atomically.
            name: what it is, for messages.

        Returns:
            ``dest`` as a :class:`~pathlib.Path`. Nothing is left at ``dest`` on failure.

        Raises:
            NotFoundError: no object has this sha256.
            ArtifactCorruptedError: the bytes do not hash to ``sha256``.
        """

    @abc.abstractmethod
    def local_file(self, sha256: str, name: str = "artifact") -> Path:
        """A local file holding the object, verified, to read in place (never to change).

        Readers that need a file (DuckDB, pyarrow, polars reading a dataset's Parquet)
        use this. For a local root it is the stored object itself, hashed once per
        process and again whenever the file changes on disk; for a remote root it is a
        verified copy in this user's read-through cache
        (:class:`~keel.artifacts.ObjectCache`, ``KEEL_CACHE_DIR``), so a second read
        costs no transfer.

        Args:
            sha256: the object.
            name: what it is, for messages.

        Raises:
            NotFoundError: no object has this sha256.
            ArtifactCorruptedError: the bytes do not hash to ``sha256``.
            ConfigError: the cache folder belongs to another user or is not a folder.
        """
