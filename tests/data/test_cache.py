"""Remote dataset reads go through a per-user, atomic, verified cache.

The artifact root is fsspec's ``memory://`` filesystem, which keel treats as remote
(only a ``file`` protocol is read in place), so every read of a version goes through
``ObjectCache`` under ``KEEL_CACHE_DIR``.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.artifacts._cache import VERIFIED, ObjectCache
from keel.config import Settings
from keel.errors import ArtifactCorruptedError, ConfigError
from keel.tracking import Client

FRAME = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "c"]})
PLANTED = pd.DataFrame({"x": [9, 9, 9], "label": ["evil", "evil", "evil"]})


@pytest.fixture
def remote(keel_home: Path, tmp_path: Path, install_client) -> Iterator[Client]:
    """A client whose artifact root is remote (memory://) and whose cache is in tmp_path."""
    root = f"memory://keel-{uuid.uuid4().hex}"
    client: Client = install_client(
        Settings(home=keel_home, artifact_root=root, cache_dir=tmp_path / "cache")
    )
    yield client
    client.artifacts.fs.rm(client.artifacts.fs._strip_protocol(root), recursive=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cached(client: Client, sha: str) -> Path:
    return ObjectCache(client.settings.resolved_cache_dir()).path_of(sha)


def test_remote_read_twice_second_from_cache(remote: Client, tmp_path: Path) -> None:
    v = keel.datasets.register(FRAME, "remote")
    assert not remote.artifacts._is_local()
    assert remote.artifacts.local_path(v.content_hash) is None
    pd.testing.assert_frame_equal(keel.datasets.get("remote/1").to_pandas(), FRAME)
    copy = _cached(remote, v.content_hash)
    assert copy.is_file() and copy.is_relative_to(tmp_path / "cache")
    # the remote bytes are gone: only the cached copy can serve the second read,
    # and this process verified it when it wrote it, so it is not hashed again
    remote.artifacts.fs.rm(remote.artifacts._object_path(v.content_hash))
    hashed = VERIFIED.hashes
    pd.testing.assert_frame_equal(keel.datasets.get("remote/1").to_pandas(), FRAME)
    assert VERIFIED.hashes == hashed


def test_cache_folders_are_private_and_files_owner_only(remote: Client, tmp_path: Path) -> None:
    v = keel.datasets.register(FRAME, "remote")
    v.to_arrow()
    copy = _cached(remote, v.content_hash)
    for folder in (tmp_path / "cache", copy.parent.parent, copy.parent):
        assert _mode(folder) == 0o700, folder
    assert _mode(copy) == 0o600
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary left


def test_cache_folder_open_to_others_is_closed(remote: Client, tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir(mode=0o777)
    (tmp_path / "cache").chmod(0o777)
    keel.datasets.register(FRAME, "remote").to_pandas()
    assert _mode(tmp_path / "cache") == 0o700


def test_cache_folder_of_another_user_is_refused(keel_home: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
    else:  # a folder root owns, which this test must not change (and cannot)
        theirs = Path("/")
    cache = ObjectCache(theirs)
    with pytest.raises(ConfigError, match="belongs to another user .* set KEEL_CACHE_DIR"):
        cache.get("a" * 64, lambda: [b"never fetched"], name="dataset x/1")
    assert not (theirs / "objects").exists()


def test_file_planted_in_the_shared_temp_folder_is_not_read(
    remote: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where keel once cached remote reads, for every user of the machine."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "shared-tmp"))
    v = keel.datasets.register(FRAME, "remote")
    shared = tmp_path / "shared-tmp" / "keel-datasets"
    shared.mkdir(parents=True)
    PLANTED.to_parquet(shared / f"{v.content_hash}.parquet")
    pd.testing.assert_frame_equal(keel.datasets.get("remote").to_pandas(), FRAME)


@pytest.mark.parametrize("same_size", [True, False])
def test_planted_file_is_discarded_and_fetched_again(
    remote: Client, tmp_path: Path, same_size: bool
) -> None:
    v = keel.datasets.register(FRAME, "remote")
    copy = _cached(remote, v.content_hash)
    copy.parent.mkdir(parents=True)
    PLANTED.to_parquet(copy)  # a valid Parquet file with other rows, put there first
    if same_size:
        real = remote.artifacts.get_bytes(v.content_hash)
        copy.write_bytes(bytes(b ^ 0xFF for b in real[:100]) + real[100:])
    got = keel.datasets.get("remote").to_pandas()
    pd.testing.assert_frame_equal(got, FRAME)
    assert copy.read_bytes() == remote.artifacts.get_bytes(v.content_hash)


def test_copy_damaged_after_caching_is_fetched_again(remote: Client) -> None:
    v = keel.datasets.register(FRAME, "remote")
    v.to_pandas()
    copy = _cached(remote, v.content_hash)
    copy.chmod(0o600)
    data = bytearray(copy.read_bytes())
    data[10] ^= 0xFF
    copy.write_bytes(bytes(data))
    pd.testing.assert_frame_equal(keel.datasets.get("remote").to_pandas(), FRAME)


def test_symlink_planted_in_the_cache_is_not_followed(remote: Client, tmp_path: Path) -> None:
    v = keel.datasets.register(FRAME, "remote")
    evil = tmp_path / "evil.parquet"
    PLANTED.to_parquet(evil)
    copy = _cached(remote, v.content_hash)
    copy.parent.mkdir(parents=True)
    copy.symlink_to(evil)
    pd.testing.assert_frame_equal(keel.datasets.get("remote").to_pandas(), FRAME)
    assert not copy.is_symlink() and evil.exists()


def test_corrupted_remote_bytes_are_refused_and_nothing_is_cached(remote: Client) -> None:
    v = keel.datasets.register(FRAME, "remote")
    with remote.artifacts.fs.open(remote.artifacts._object_path(v.content_hash), "wb") as f:
        f.write(PLANTED.to_parquet())
    with pytest.raises(ArtifactCorruptedError, match="dataset remote/1 is corrupted"):
        keel.datasets.get("remote").to_pandas()
    copy = _cached(remote, v.content_hash)
    assert not copy.exists() and list(copy.parent.iterdir()) == []


def test_cache_keeps_within_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    import hashlib

    cache = ObjectCache(tmp_path / "c", max_bytes=2500)
    blobs = [bytes([i]) * 1000 for i in range(3)]
    shas = [hashlib.sha256(b).hexdigest() for b in blobs]
    first = cache.get(shas[0], lambda: [blobs[0]])
    cache.get(shas[1], lambda: [blobs[1]])
    os.utime(first, ns=(1, 1))  # the oldest use ...
    cache.get(shas[1], lambda: [blobs[1]])
    cache.get(shas[0], lambda: [blobs[0]])  # ... until it is used again
    cache.get(shas[2], lambda: [blobs[2]])
    assert [cache.path_of(s).exists() for s in shas] == [True, False, True]


def test_default_cache_folder_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings().resolved_cache_dir() == tmp_path / "xdg" / "keel"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert Settings().resolved_cache_dir() == Path.home() / ".cache" / "keel"
    monkeypatch.setenv("KEEL_CACHE_DIR", str(tmp_path / "mine"))
    assert Settings().resolved_cache_dir() == tmp_path / "mine"
