"""Artifact bytes kept by a keel server, streamed over HTTP and verified on both ends.

Writes hash the bytes first, ask the server whether the project holds them already
(``HEAD``) and otherwise stream them (``PUT .../artifacts/{sha256}``); the server hashes
what arrives and refuses a mismatch, so a damaged upload is never stored. Reads go
through the per-user read-through cache (:class:`~keel.artifacts._cache.ObjectCache`):
objects never change, so a cached, verified copy is as good as the original and a
second read of a dataset or model transfers nothing. Bytes just uploaded are put in the
cache too (a kernel copy: no second hash).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from keel._transport import Transport
from keel.artifacts._cache import ObjectCache, sha256_file
from keel.artifacts._store import ArtifactStore, StoredObject
from keel.config import Settings, load_settings
from keel.errors import ArtifactCorruptedError, NotFoundError

__all__ = ["HttpArtifactStore"]

_CHUNK = 1 << 20


def _file_chunks(path: Path) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk

    return chunks


class HttpArtifactStore(ArtifactStore):
    """The artifact store of a keel server's project.

    Args:
        root: the server's URL (``http://host:8080``).
        settings: the settings in force: the API token, this user's cache folder and,
            unless ``project`` is given, the project.
        project: the project whose bytes these are.
        transport: a transport to share (the REST store's) instead of opening one.

    Example::

        >>> arts = HttpArtifactStore("http://127.0.0.1:8080", settings=settings)
        >>> arts.get_bytes(arts.put_bytes(b"hello").sha256)
        b'hello'
    """

    def __init__(
        self,
        root: str,
        *,
        settings: Settings | None = None,
        project: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        settings = settings or load_settings()
        self._root = root.rstrip("/")
        self._transport = transport or Transport(
            self._root, project or settings.project, settings.token
        )
        self._cache = ObjectCache(settings.resolved_cache_dir())

    def __repr__(self) -> str:
        return f"HttpArtifactStore({self._transport.server!r}, project={self._transport.project!r})"

    def close(self) -> None:
        """Close the connection pool (a given transport included). Idempotent."""
        self._transport.close()

    @property
    def root(self) -> str:
        return self._root

    def _path(self, sha256: str) -> str:
        return f"{self._transport.project_prefix}/artifacts/{sha256}"

    # -- writes ---------------------------------------------------------------------

    def _upload(self, sha256: str, size: int, body: Callable[[], Iterable[bytes]]) -> StoredObject:
        if not self.exists(sha256):
            self._transport.request(
                "PUT",
                self._path(sha256),
                content=body,
                headers={"Content-Type": "application/octet-stream"},
            )
        return StoredObject(sha256, size)

    def put_file(self, path: str | Path) -> StoredObject:
        path = Path(path)
        before = path.stat()
        sha = sha256_file(path)
        stored = self._upload(sha, before.st_size, _file_chunks(path))
        self._cache.add_file(sha, path, hashed_as=before)
        return stored

    def put_stream(self, stream: IO[bytes]) -> StoredObject:
        with tempfile.TemporaryDirectory(prefix="keel-upload-") as tmp:
            spool = Path(tmp) / uuid.uuid4().hex
            with spool.open("wb") as out:
                shutil.copyfileobj(stream, out, _CHUNK)
            return self.put_file(spool)

    def put_bytes(self, data: bytes) -> StoredObject:
        sha = hashlib.sha256(data).hexdigest()
        stored = self._upload(sha, len(data), lambda: [data])
        self._cache.get(sha, lambda: [data])
        return stored

    def put_local_file(
        self, path: str | Path, sha256: str | None = None, *, move: bool = True
    ) -> StoredObject:
        path = Path(path)
        before = path.stat()
        sha = sha256 or sha256_file(path)
        stored = self._upload(sha, before.st_size, _file_chunks(path))
        # a sha256 handed in is the caller's word: the copy is verified on first use
        self._cache.add_file(sha, path, hashed_as=None if sha256 else before)
        if move:
            path.unlink()
        return stored

    # -- reads ----------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        try:
            self._transport.request("HEAD", self._path(sha256))
        except NotFoundError:
            return False
        return True

    def _remote_chunks(self, sha256: str, name: str) -> Iterator[bytes]:
        try:
            response = self._transport.request("GET", self._path(sha256), stream=True)
        except NotFoundError:
            raise NotFoundError(
                f"the bytes of {name} (sha256 {sha256[:12]}...) are not on the server "
                f"{self._transport.server} in project {self._transport.project!r}"
            ) from None
        digest = hashlib.sha256()
        try:
            for chunk in response.iter_bytes(_CHUNK):
                digest.update(chunk)
                yield chunk
        finally:
            response.close()
        if digest.hexdigest() != sha256:
            raise ArtifactCorruptedError(
                f"{name} arrived corrupted from {self._transport.server}: its bytes hash to "
                f"{digest.hexdigest()[:12]}..., not {sha256[:12]}...; try again"
            )

    def open_chunks(self, sha256: str, name: str = "artifact") -> Iterator[bytes]:
        path = self.local_file(sha256, name)
        return _file_chunks(path)()

    def get_bytes(self, sha256: str, name: str = "artifact") -> bytes:
        return self.local_file(sha256, name).read_bytes()

    def download(self, sha256: str, dest: str | Path, name: str = "artifact") -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            shutil.copyfile(self.local_file(sha256, name), tmp)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def local_file(self, sha256: str, name: str = "artifact") -> Path:
        return self._cache.get(sha256, lambda: self._remote_chunks(sha256, name), name=name)
