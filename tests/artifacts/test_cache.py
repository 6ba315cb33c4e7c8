"""ObjectCache.add_file: a kernel copy of a file just hashed, trusted only if unchanged."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from keel.artifacts._cache import ObjectCache, VerifiedFiles


def _file(folder: Path, data: bytes) -> tuple[Path, str]:
    path = folder / "model.bin"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_a_copy_of_an_unchanged_file_is_verified_without_hashing(tmp_path: Path) -> None:
    verified = VerifiedFiles()
    cache = ObjectCache(tmp_path / "cache", verified=verified)
    source, sha = _file(tmp_path, os.urandom(300_000))
    before = source.stat()
    copy = cache.add_file(sha, source, hashed_as=before)
    assert copy == cache.path_of(sha) and copy.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    fetched: list[str] = []
    assert cache.get(sha, lambda: fetched.append("x") or [], name="m") == copy
    assert verified.hashes == 0 and fetched == []  # neither hashed nor fetched


def test_a_file_changed_after_hashing_is_hashed_before_use_and_refetched(tmp_path: Path) -> None:
    verified = VerifiedFiles()
    cache = ObjectCache(tmp_path / "cache", verified=verified)
    data = os.urandom(50_000)
    source, sha = _file(tmp_path, data)
    before = source.stat()
    source.write_bytes(b"changed meanwhile" + data[17:])  # same size, other bytes
    cache.add_file(sha, source, hashed_as=before)
    # the copy holds the changed bytes: it is hashed on first use, refused, fetched again
    path = cache.get(sha, lambda: [data], name="m")
    assert verified.hashes == 1 and path.read_bytes() == data


def test_without_hashed_as_the_copy_is_checked_on_first_use(tmp_path: Path) -> None:
    verified = VerifiedFiles()
    cache = ObjectCache(tmp_path / "cache", verified=verified)
    source, sha = _file(tmp_path, b"caller-given sha256")
    cache.add_file(sha, source)
    assert cache.get(sha, lambda: [], name="m").read_bytes() == b"caller-given sha256"
    assert verified.hashes == 1


def test_an_object_cached_already_is_kept(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path / "cache", verified=VerifiedFiles())
    source, sha = _file(tmp_path, b"same bytes")
    first = cache.add_file(sha, source, hashed_as=source.stat())
    inode = first.stat().st_ino
    assert cache.add_file(sha, source, hashed_as=source.stat()).stat().st_ino == inode
