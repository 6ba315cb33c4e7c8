"""Content-addressed, atomic, verified byte storage on any fsspec filesystem.

Objects live at ``<root>/objects/<sha[:2]>/<sha>``. A write streams to a temporary
object under ``<root>/tmp/`` while hashing, then renames it into place, so a reader
never sees a partial file and identical content is stored once. A read hashes the
bytes again and refuses them if they no longer match.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import IO, Any

from keel._redact import safe_uri
from keel.errors import ArtifactCorruptedError, NotFoundError

__all__ = ["ArtifactStore", "StoredObject"]

_CHUNK = 1 << 20


class StoredObject:
    """The sha256 and size of bytes put into an :class:`ArtifactStore`."""

    __slots__ = ("sha256", "size")

    def __init__(self, sha256: str, size: int) -> None:
        self.sha256 = sha256
        self.size = size

    def __repr__(self) -> str:
        return f"StoredObject(sha256={self.sha256!r}, size={self.size})"


class ArtifactStore:
    """Bytes by sha256 under an fsspec root (a local folder by default).

    Args:
        root: a folder or fsspec URL such as ``s3://bucket/keel``.
        storage_options: passed to fsspec (credentials, endpoint).

    Example::

        >>> store = ArtifactStore("/tmp/keel-artifacts")
        >>> obj = store.put_bytes(b"hello")
        >>> store.get_bytes(obj.sha256)
        b'hello'
    """

    def __init__(self, root: str, storage_options: dict[str, Any] | None = None) -> None:
        self.root = root
        self._storage_options = storage_options or {}
        self._fs: Any = None
        self._base = ""

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (created on first use)."""
        if self._fs is None:
            import fsspec.core

            fs, base = fsspec.core.url_to_fs(self.root, **self._storage_options)
            self._fs, self._base = fs, base.rstrip("/")
        return self._fs

    def _object_path(self, sha256: str) -> str:
        _ = self.fs
        return f"{self._base}/objects/{sha256[:2]}/{sha256}"

    def _is_local(self) -> bool:
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def put_stream(self, stream: IO[bytes]) -> StoredObject:
        """Store the bytes read from ``stream``; returns their sha256 and size."""
        fs = self.fs
        tmp = f"{self._base}/tmp/{uuid.uuid4().hex}"  # noqa: S108 - under the artifact root
        fs.makedirs(f"{self._base}/tmp", exist_ok=True)  # noqa: S108 - under the artifact root
        digest = hashlib.sha256()
        size = 0
        try:
            with fs.open(tmp, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                if self._is_local():
                    out.flush()
                    os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self._object_path(sha)
            if fs.exists(final):
                fs.rm(tmp)
            else:
                fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                if self._is_local():
                    Path(tmp).replace(final)  # atomic on one filesystem
                else:
                    fs.mv(tmp, final)
        except BaseException:
            if fs.exists(tmp):
                fs.rm(tmp)
            raise
        return StoredObject(sha, size)

    def put_file(self, path: str | Path) -> StoredObject:
        """Store a local file."""
        with Path(path).open("rb") as stream:
            return self.put_stream(stream)

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store bytes."""
        return self.put_stream(io.BytesIO(data))

    def put_local_file(
        self, path: str | Path, sha256: str | None = None, *, move: bool = True
    ) -> StoredObject:
        """Store a local file, moving it into place instead of copying it where possible.

        With ``move=True`` and a local root on the same filesystem, the file is synced and
        renamed (atomically) to its content address, so its bytes are neither copied nor,
        when ``sha256`` is given, read again; the file is gone from ``path`` afterwards.
        Otherwise (``move=False``, a remote root, another filesystem) it is copied like
        :meth:`put_file` and ``path`` is left as it was, unless ``move`` asked to remove it.

        Args:
            path: the file; it must not change while being stored.
            sha256: its sha256 if the caller has just computed it (it is trusted: a wrong
                value files the bytes under a wrong address, which reads then refuse);
                ``None`` to compute it here.
            move: take the file over rather than copy it.

        Example::

            >>> obj = store.put_local_file("/tmp/out.parquet")  # /tmp/out.parquet is moved
        """
        path = Path(path)
        if not move or not self._is_local():
            stored = self.put_file(path)
            if move:
                path.unlink()
            return stored
        if sha256 is None:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            sha256 = digest.hexdigest()
        size = path.stat().st_size
        final = Path(self._object_path(sha256))
        if final.exists():
            path.unlink()
            return StoredObject(sha256, size)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # the bytes reach the disk before the name does
        finally:
            os.close(fd)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.replace(final)  # atomic on one filesystem
        except OSError:  # another filesystem: copy (hashing again), then drop the original
            stored = self.put_file(path)
            path.unlink()
            return stored
        return StoredObject(sha256, size)

    def local_path(self, sha256: str) -> Path | None:
        """The object's path on the local disk, to read in place; ``None`` for remote roots.

        The bytes are not re-verified: callers that read in place verify what they read
        (e.g. Parquet readers check page checksums) or call :meth:`get_bytes` instead.
        """
        if not self._is_local():
            return None
        return Path(self._object_path(sha256))

    def exists(self, sha256: str) -> bool:
        """Whether an object with this sha256 is stored."""
        return bool(self.fs.exists(self._object_path(sha256)))

    def _verified_chunks(self, sha256: str, name: str) -> Any:
        path = self._object_path(sha256)
        if not self.fs.exists(path):
            raise NotFoundError(
                f"the bytes of {name} (sha256 {sha256[:12]}...) are missing from the artifact "
                f"store {safe_uri(self.root)}; it was deleted or the artifact root changed (KEEL_ARTIFACT_ROOT)"
            )
        with self.fs.open(path, "rb") as src:
            while chunk := src.read(_CHUNK):
                yield chunk

    def get_bytes(self, sha256: str, name: str = "artifact") -> bytes:
        """The bytes of an object, verified against its sha256.

        Raises:
            ArtifactCorruptedError: the stored bytes do not match (names ``name``).
        """
        data = b"".join(self._verified_chunks(sha256, name))
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise _corrupted(name, sha256, actual)
        return data

    def download(self, sha256: str, dest: str | Path, name: str = "artifact") -> Path:
        """Copy an object to a local file, verifying it; nothing is left at ``dest`` on failure."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            with tmp.open("wb") as out:
                for chunk in self._verified_chunks(sha256, name):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise _corrupted(name, sha256, digest.hexdigest())
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest


def _corrupted(name: str, expected: str, actual: str) -> ArtifactCorruptedError:
    return ArtifactCorruptedError(
        f"{name} is corrupted: its sha256 is {actual[:12]}... but {expected[:12]}... was "
        "recorded when it was logged; the file was changed after logging, log it again"
    )
