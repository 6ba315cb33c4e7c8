"""Content-addressed, atomic, verified byte storage on any fsspec filesystem.

Objects live at ``<root>/objects/<sha[:2]>/<sha>``. A write streams to a temporary
object under ``<root>/tmp/`` while hashing, then renames it into place, so a reader
never sees a partial file and identical content is stored once. A read hashes the
bytes again and refuses them if they no longer match.

On an object store (``s3://``, ``gs://``, ``az://``) there are no folders to make (and
keel never creates a bucket: a missing one is an error), and a local file whose sha256
is known is uploaded straight to its final key: one upload of a whole object is atomic
there, so it needs no temporary object and no server-side copy. Failures of a remote
root (missing bucket, endpoint down, credentials refused) are raised as
:class:`~keel.errors.ArtifactStoreUnavailableError`, naming the root without its secrets.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from keel._redact import redact, safe_uri
from keel.artifacts._cache import VERIFIED, ObjectCache, VerifiedFiles
from keel.artifacts._store import ArtifactStore, StoredObject
from keel.errors import (
    ArtifactCorruptedError,
    ArtifactStoreUnavailableError,
    KeelError,
    MissingExtraError,
    NotFoundError,
)

if TYPE_CHECKING:
    from keel.config import Settings

__all__ = ["FsspecArtifactStore"]

_CHUNK = 1 << 20

#: fsspec protocols of object stores: keys, not folders (s3fs's ``makedirs`` would create
#: a missing *bucket*), and an upload of a whole object appears atomically under its key.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})

#: the package that gives fsspec a protocol, and the keel extra that installs it
_PROTOCOL_PACKAGES = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3")}


class FsspecArtifactStore(ArtifactStore):
    """Bytes by sha256 under an fsspec root: a local folder (the default) or ``s3://...``.

    A local root is read in place; any other root is read through this user's cache of
    verified copies (:class:`~keel.artifacts.ObjectCache`).

    Args:
        root: a folder or fsspec URL such as ``s3://bucket/keel``.
        storage_options: passed to fsspec (credentials, endpoint).
        settings: where this user's cache is (``Settings.resolved_cache_dir()``); the
            settings in force are read when a remote object is first read otherwise.
        verified: the record of verified local files (the process's by default).

    Nothing is touched until first use.

    Example::

        >>> store = FsspecArtifactStore("/tmp/keel-artifacts")
        >>> obj = store.put_bytes(b"hello")
        >>> store.get_bytes(obj.sha256)
        b'hello'
    """

    def __init__(
        self,
        root: str,
        storage_options: dict[str, Any] | None = None,
        *,
        settings: Settings | None = None,
        verified: VerifiedFiles | None = None,
    ) -> None:
        self._root = root
        self._storage_options = storage_options or {}
        self._settings = settings
        self._verified = verified if verified is not None else VERIFIED
        self._cache: ObjectCache | None = None
        self._fs: Any = None
        self._base = ""

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({safe_uri(self._root)!r})"

    @property
    def root(self) -> str:
        """The folder or fsspec URL given (it may carry credentials)."""
        return self._root

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (created on first use)."""
        if self._fs is None:
            import fsspec.core

            try:
                fs, base = fsspec.core.url_to_fs(self._root, **self._storage_options)
            except ImportError as exc:  # fsspec knows the protocol; its package is missing
                raise self._missing_package(exc) from None
            self._fs, self._base = fs, base.rstrip("/")
        return self._fs

    def _missing_package(self, exc: ImportError) -> MissingExtraError:
        scheme = self._root.split("://", 1)[0].lower() if "://" in self._root else ""
        if scheme in _PROTOCOL_PACKAGES:
            package, extra = _PROTOCOL_PACKAGES[scheme]
            error = MissingExtraError.for_extra(package, extra)
            return MissingExtraError(f"artifact root {safe_uri(self._root)}: {error.message}")
        return MissingExtraError(
            f"artifact root {safe_uri(self._root)} needs a package that is not installed: {exc}"
        )

    def _protocols(self) -> tuple[str, ...]:
        protocol = self.fs.protocol
        return protocol if isinstance(protocol, tuple) else (protocol,)

    def _is_object_store(self) -> bool:
        return not _OBJECT_STORES.isdisjoint(self._protocols())

    @contextlib.contextmanager
    def _io(self, action: str) -> Iterator[None]:
        """Turn a failure of a remote root into :class:`ArtifactStoreUnavailableError`.

        Only failures of the storage itself are translated (``OSError``, and the errors of
        the storage client libraries: botocore, aiohttp, ...); a bug (``TypeError``...)
        and keel's own errors pass through, and so does anything from a local folder (an
        ``OSError`` there already says which file and why).
        """
        try:
            yield
        except KeelError:
            raise
        except Exception as exc:
            if self._fs is None or self._is_local() or not _is_storage_failure(exc):
                raise
            raise self._unavailable(action, exc) from exc

    def _unavailable(self, action: str, exc: Exception) -> ArtifactStoreUnavailableError:
        detail = redact(str(exc), self._root).strip() or "no detail"
        if len(detail) > 300:
            detail = detail[:297] + "..."
        if isinstance(exc, FileNotFoundError) and action.startswith("store"):
            hint = (
                "its bucket (or container) does not exist: create it first, keel does not "
                "create buckets"
            )
        elif "s3" in self._protocols() or "s3a" in self._protocols():
            hint = (
                "check that the bucket exists and that this process's endpoint and credentials "
                "reach it (AWS_ENDPOINT_URL for an S3-compatible store, AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, AWS_DEFAULT_REGION)"
            )
        else:
            hint = "check that it exists and that this process's credentials reach it"
        return ArtifactStoreUnavailableError(
            f"the artifact root {safe_uri(self._root)} could not {action} "
            f"({type(exc).__name__}: {detail}); {hint}"
        )

    def _object_path(self, sha256: str) -> str:
        _ = self.fs
        return f"{self._base}/objects/{sha256[:2]}/{sha256}"

    def _is_local(self) -> bool:
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    @property
    def is_local(self) -> bool:
        """Whether the root is a folder on this machine (objects are read in place)."""
        return self._is_local()

    def put_stream(self, stream: IO[bytes]) -> StoredObject:
        """Store the bytes read from ``stream``; returns their sha256 and size."""
        fs = self.fs
        folders = not self._is_object_store()
        tmp = f"{self._base}/tmp/{uuid.uuid4().hex}"  # noqa: S108 - under the artifact root
        digest = hashlib.sha256()
        size = 0
        with self._io("store an object"):
            if folders:
                fs.makedirs(f"{self._base}/tmp", exist_ok=True)  # noqa: S108 - under the root
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
                    if folders:
                        fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                    if self._is_local():
                        Path(tmp).replace(final)  # atomic on one filesystem
                    else:
                        fs.mv(tmp, final)
            except BaseException:
                self._discard(tmp)
                raise
        return StoredObject(sha, size)

    def _discard(self, tmp: str) -> None:
        """Remove a temporary object, if it is there and the root answers (best effort:
        the failure being raised is the one that matters)."""
        try:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
        except Exception:
            pass

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
        On an object store (``s3://``...), ``move=True`` uploads the file straight to its
        key, in one upload that appears whole or not at all (no temporary object, no
        server-side copy), and removes it. Otherwise (``move=False``, another remote root,
        another filesystem) it is copied like :meth:`put_file` and ``path`` is left as it
        was, unless ``move`` asked to remove it. A file moved into place counts as verified in this process (its bytes were just
        hashed), so reading it next does not hash it again.

        Args:
            path: the file; it must not change while being stored.
            sha256: its sha256 if the caller has just computed it while writing it (it is
                trusted: a wrong value files the bytes under a wrong address);
                ``None`` to compute it here.
            move: take the file over rather than copy it.

        Example::

            >>> obj = store.put_local_file("/tmp/out.parquet")  # /tmp/out.parquet is moved
        """
        path = Path(path)
        if move and self._is_object_store():
            return self._upload_whole(path, sha256)
        if not move or not self._is_local():
            stored = self.put_file(path)
            if move:
                path.unlink()
            return stored
        if sha256 is None:
            sha256 = _hash_file(path)
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
        # the very file whose bytes were just hashed: reading it needs no second hash
        self._verified.remember(final, sha256)
        return StoredObject(sha256, size)

    def _upload_whole(self, path: Path, sha256: str | None) -> StoredObject:
        """Upload a file that is being taken over straight to its key on an object store
        (one atomic upload: no temporary object, no copy), then remove it."""
        if sha256 is None:
            sha256 = _hash_file(path)
        size = path.stat().st_size
        final = self._object_path(sha256)
        with self._io("store an object"):
            if not self.fs.exists(final):
                self.fs.put_file(str(path), final)
        path.unlink()
        return StoredObject(sha256, size)

    def local_path(self, sha256: str) -> Path | None:
        """Where the object would be on the local disk; ``None`` for remote roots.

        Not verified, and the file may not exist: to read an object, use
        :meth:`local_file`.
        """
        if not self._is_local():
            return None
        return Path(self._object_path(sha256))

    def exists(self, sha256: str) -> bool:
        """Whether an object with this sha256 is stored."""
        with self._io("check for an object"):
            return bool(self.fs.exists(self._object_path(sha256)))

    def _missing(self, sha256: str, name: str) -> NotFoundError:
        return NotFoundError(
            f"the bytes of {name} (sha256 {sha256[:12]}...) are missing from the artifact "
            f"store {safe_uri(self._root)}; it was deleted or the artifact root changed "
            "(KEEL_ARTIFACT_ROOT)"
        )

    def _raw_chunks(self, sha256: str, name: str) -> Iterator[bytes]:
        """The stored bytes in chunks, not verified (callers hash them)."""
        path = self._object_path(sha256)
        with self._io("read an object"):
            if not self.fs.exists(path):
                raise self._missing(sha256, name)
        return self._read(path)

    def _read(self, path: str) -> Iterator[bytes]:
        with self._io("read an object"), self.fs.open(path, "rb") as src:
            while chunk := src.read(_CHUNK):
                yield chunk

    def open_chunks(self, sha256: str, name: str = "artifact") -> Iterator[bytes]:
        """The object's bytes in 1 MiB chunks; the sha256 is checked after the last one.

        Raises:
            NotFoundError: the object is missing (raised by this call, before any chunk).
            ArtifactCorruptedError: at the end, when the bytes do not match.
        """
        return _verified(self._raw_chunks(sha256, name), sha256, name)

    def get_bytes(self, sha256: str, name: str = "artifact") -> bytes:
        """The bytes of an object, verified against its sha256.

        Raises:
            NotFoundError: the object is missing.
            ArtifactCorruptedError: the stored bytes do not match (names ``name``).
        """
        data = b"".join(self._raw_chunks(sha256, name))
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise _corrupted(name, sha256, actual)
        return data

    def download(self, sha256: str, dest: str | Path, name: str = "artifact") -> Path:
        """Copy an object to a local file, verifying it; nothing is left at ``dest`` on failure."""
        dest = Path(dest)
        chunks = self._raw_chunks(sha256, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            with tmp.open("wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise _corrupted(name, sha256, digest.hexdigest())
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def local_file(self, sha256: str, name: str = "artifact") -> Path:
        """A verified local file with the object's bytes, to read in place.

        For a local root, the stored object itself (hashed once per process, and again
        when the file changes on disk); otherwise a verified copy in this user's cache.

        Raises:
            NotFoundError: the object is missing.
            ArtifactCorruptedError: the bytes do not match.
            ConfigError: the cache folder belongs to another user or is not a folder.
        """
        if self._is_local():  # the stored object can be read in place
            path = Path(self._object_path(sha256))
            if not path.exists():
                raise self._missing(sha256, name)
            self._verified.verify(path, sha256, name)
            return path
        return self._object_cache().get(sha256, lambda: self._raw_chunks(sha256, name), name=name)

    def _object_cache(self) -> ObjectCache:
        if self._cache is None:
            settings = self._settings
            if settings is None:
                from keel.config import load_settings

                settings = load_settings()
            self._cache = ObjectCache(settings.resolved_cache_dir(), verified=self._verified)
        return self._cache


#: the packages whose exceptions are failures of a remote storage (not bugs)
_STORAGE_PACKAGES = frozenset(
    {"botocore", "aiobotocore", "aiohttp", "s3fs", "gcsfs", "google", "adlfs", "azure", "fsspec"}
)


def _is_storage_failure(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    return any(cls.__module__.split(".", 1)[0] in _STORAGE_PACKAGES for cls in type(exc).__mro__)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(chunks: Iterator[bytes], sha256: str, name: str) -> Iterator[bytes]:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    actual = digest.hexdigest()
    if actual != sha256:
        raise _corrupted(name, sha256, actual)


def _corrupted(name: str, expected: str, actual: str) -> ArtifactCorruptedError:
    return ArtifactCorruptedError(
        f"{name} is corrupted: its sha256 is {actual[:12]}... but {expected[:12]}... was "
        "recorded when it was logged; the file was changed after logging, log it again"
    )
