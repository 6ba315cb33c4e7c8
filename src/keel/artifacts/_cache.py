"""Verified local copies of content-addressed objects.

Two small pieces that every reader of stored bytes can build on:

* :class:`VerifiedFiles`: which local files this process has already hashed and found
  to match their sha256, keyed by the file's identity (device, inode, size, mtime_ns,
  ctime_ns). A file is hashed again only when one of those changes, so reading a large
  dataset twice does not read it twice, while a file changed on disk (even with its
  size and mtime put back: the change still moves its ctime) is hashed, and refused,
  on its next use. :data:`VERIFIED` is the process's instance.
* :class:`ObjectCache`: a per-user folder of verified copies of remote objects
  (``<root>/objects/<sha[:2]>/<sha>``). The folders are mode 0700 (a wider mode on a
  folder of the user's own is narrowed; a folder of another user is refused), a copy is
  written to a temporary file in its final folder and renamed into place only once its
  sha256 matches, and a cached file is used only after it is verified (a file that does
  not match, or that belongs to someone else, is discarded and fetched again).

The cache holds at most ``max_bytes`` (:data:`DEFAULT_MAX_BYTES`, 20 GiB, by default):
after each fetch the least recently used copies are removed until it fits again (the
copy just fetched is always kept, even when it alone is larger). A copy removed while
another process has it open stays readable to that process (POSIX semantics).

Example::

    >>> cache = ObjectCache(settings.resolved_cache_dir())
    >>> path = cache.get(sha, lambda: remote_chunks(sha), name="dataset iris/3")
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from keel.errors import ArtifactCorruptedError, ConfigError

__all__ = ["DEFAULT_MAX_BYTES", "VERIFIED", "ObjectCache", "VerifiedFiles", "sha256_file"]

#: Default bound of an :class:`ObjectCache`, in bytes (20 GiB).
DEFAULT_MAX_BYTES = 20 * 1024**3

_CHUNK = 1 << 20
#: A partial download untouched this long was left by a process that died.
_STALE_PART_NS = 24 * 3600 * 10**9


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks (hashlib releases the GIL)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Identity(NamedTuple):
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def _identity(st: os.stat_result) -> _Identity:
    return _Identity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class VerifiedFiles:
    """The local files this process has hashed and found to match, by file identity.

    Thread-safe. ``hashes`` counts the files actually hashed (for tests and benchmarks).
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[_Identity, str]] = {}
        self._lock = threading.Lock()
        self.hashes = 0

    def matches(self, path: Path, sha256: str) -> bool:
        """Whether the file at ``path`` holds the bytes whose sha256 is ``sha256``.

        Hashes the file unless this process already did for the same identity.

        Raises:
            FileNotFoundError: there is no file at ``path``.
        """
        key = os.fspath(path)
        before = _identity(path.stat())
        with self._lock:
            if self._seen.get(key) == (before, sha256):
                return True
            self.hashes += 1
        actual = sha256_file(path)
        after = _identity(path.stat())
        with self._lock:
            if actual == sha256 and after == before:  # unchanged while it was read
                self._seen[key] = (after, sha256)
                return True
            self._seen.pop(key, None)
        return actual == sha256 and after == before

    def verify(self, path: Path, sha256: str, name: str) -> None:
        """Raise unless the file at ``path`` matches ``sha256`` (see :meth:`matches`).

        Raises:
            ArtifactCorruptedError: the bytes do not match; the message names ``name``.
        """
        if not self.matches(path, sha256):
            raise ArtifactCorruptedError(
                f"{name} is corrupted: its file {path} no longer hashes to the sha256 "
                f"{sha256[:12]}... recorded when it was stored; register or log it again"
            )

    def remember(self, path: Path, sha256: str) -> None:
        """Record that ``path``, as it is now, was just verified (e.g. hashed while written)."""
        ident = _identity(path.stat())
        with self._lock:
            self._seen[os.fspath(path)] = (ident, sha256)

    def forget(self, path: Path) -> None:
        """Drop what is known about ``path``."""
        with self._lock:
            self._seen.pop(os.fspath(path), None)


#: The process's record of verified files. Process-wide on purpose: it records facts
#: about files on this machine, each checked against the file's current identity.
VERIFIED = VerifiedFiles()


def _secure_folder(path: Path) -> None:
    """Create ``path`` (mode 0700) or check it: a folder of this user, closed to others."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"cache folder {path} is not a folder; set KEEL_CACHE_DIR to a folder")
    if sys.platform == "win32":  # pragma: no cover - POSIX owners and modes only
        return
    uid = os.geteuid()
    if st.st_uid != uid:
        raise ConfigError(
            f"cache folder {path} belongs to another user (uid {st.st_uid}, you are {uid}), who "
            "could replace its files; set KEEL_CACHE_DIR to a folder of your own"
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)  # ours but open to others: close it


class ObjectCache:
    """A per-user folder of verified copies of content-addressed objects.

    Args:
        root: the cache folder (``Settings.resolved_cache_dir()``); created on first use.
        max_bytes: the most bytes the cached copies may take (least recently used go first).
        verified: the record of verified files to use (the process's by default).

    Nothing is touched on disk until :meth:`get`.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        verified: VerifiedFiles | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._verified = verified if verified is not None else VERIFIED

    def path_of(self, sha256: str) -> Path:
        """Where the copy of ``sha256`` lives (it may not exist)."""
        return self.root / "objects" / sha256[:2] / sha256

    def get(
        self,
        sha256: str,
        fetch: Callable[[], Iterable[bytes]],
        *,
        name: str = "object",
    ) -> Path:
        """A local, verified copy of the object ``sha256``, fetched with ``fetch`` if needed.

        Args:
            sha256: the object's sha256 (hex).
            fetch: returns the object's bytes in chunks (called only on a miss).
            name: what the object is, for messages (``"dataset iris/3"``).

        Returns:
            The path of the copy. Read it, do not change it.

        Raises:
            ArtifactCorruptedError: the fetched bytes do not match ``sha256``.
            ConfigError: the cache folder belongs to another user or is not a folder.
        """
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ArtifactCorruptedError(f"{name} has no valid sha256 ({sha256[:70]!r})")
        path = self.path_of(sha256)
        for folder in (self.root, path.parent.parent, path.parent):
            _secure_folder(folder)
        if self._usable(path, sha256):
            os.utime(path)  # most recently used
            self._verified.remember(path, sha256)
            return path
        self._download(path, sha256, fetch, name)
        self._evict(keep=path)
        return path

    def add_file(
        self, sha256: str, source: Path, *, hashed_as: os.stat_result | None = None
    ) -> Path:
        """Put a copy of a local file that holds the object ``sha256`` in the cache.

        The copy is made by the kernel, without hashing: it counts as verified only when
        ``hashed_as`` is the ``os.stat`` of ``source`` taken before the caller hashed it
        and the file still has that identity once copied (it did not change meanwhile);
        otherwise it is hashed before its first use, like any cached file.

        Args:
            sha256: the sha256 the caller computed for ``source``.
            source: the file.
            hashed_as: ``source``'s stat from before it was hashed.

        Returns:
            The path of the cached copy.
        """
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ArtifactCorruptedError(f"{source} has no valid sha256 ({sha256[:70]!r})")
        path = self.path_of(sha256)
        for folder in (self.root, path.parent.parent, path.parent):
            _secure_folder(folder)
        if path.is_file() and not path.is_symlink():
            os.utime(path)
            return path
        tmp = path.with_name(f".{sha256[:16]}.{uuid.uuid4().hex}.part")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            shutil.copyfile(source, tmp)  # sendfile on Linux: no bytes through Python
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        if hashed_as is not None and _identity(source.stat()) == _identity(hashed_as):
            self._verified.remember(path, sha256)
        self._evict(keep=path)
        return path

    def _usable(self, path: Path, sha256: str) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        mine = sys.platform == "win32" or st.st_uid == os.geteuid()
        if stat.S_ISREG(st.st_mode) and mine and self._verified.matches(path, sha256):
            return True
        self._verified.forget(path)
        try:
            path.unlink()  # planted, replaced or damaged: never read it
        except IsADirectoryError:
            raise ConfigError(
                f"cache entry {path} is a folder, not a file; remove it (it is not keel's)"
            ) from None
        return False

    def _download(
        self, path: Path, sha256: str, fetch: Callable[[], Iterable[bytes]], name: str
    ) -> None:
        tmp = path.with_name(f".{sha256[:16]}.{uuid.uuid4().hex}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        digest = hashlib.sha256()
        try:
            # Not synced to disk: a copy torn by a crash cannot be read as good, since a
            # process verifies every cached file before its first use of it.
            with os.fdopen(fd, "wb") as out:
                for chunk in fetch():
                    digest.update(chunk)
                    out.write(chunk)
            actual = digest.hexdigest()
            if actual != sha256:
                raise ArtifactCorruptedError(
                    f"{name} is corrupted in the artifact store: its bytes hash to "
                    f"{actual[:12]}... but {sha256[:12]}... was recorded; register or log it again"
                )
            tmp.replace(path)  # atomic: readers see no copy or the whole copy
            self._verified.remember(path, sha256)
        finally:
            tmp.unlink(missing_ok=True)

    def _evict(self, keep: Path) -> None:
        entries = []
        total = 0
        stale = time.time_ns() - _STALE_PART_NS
        for file in (self.root / "objects").glob("*/*"):
            try:
                st = file.lstat()
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if file.name.startswith("."):  # a download in progress, or one that crashed
                if st.st_mtime_ns < stale:
                    file.unlink(missing_ok=True)
                continue
            entries.append((st.st_mtime_ns, st.st_size, file))
            total += st.st_size
        for _mtime, size, file in sorted(entries):
            if total <= self.max_bytes:
                break
            if file == keep:
                continue
            file.unlink(missing_ok=True)
            self._verified.forget(file)
            total -= size
