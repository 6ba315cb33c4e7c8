"""ArtifactStore.put_local_file: moving an already-written file into its content address."""

from __future__ import annotations

import hashlib
from pathlib import Path

import fsspec

from keel.artifacts import FsspecArtifactStore


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_move_hashes_once_and_takes_the_file(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    data = bytes(range(256)) * 9_000  # a few chunks
    src = _file(tmp_path / "out.bin", data)
    obj = store.put_local_file(src)
    assert obj.sha256 == hashlib.sha256(data).hexdigest() and obj.size == len(data)
    assert not src.exists()
    assert store.get_bytes(obj.sha256) == data
    assert (
        store.local_path(obj.sha256) == tmp_path / "root" / "objects" / obj.sha256[:2] / obj.sha256
    )


def test_given_hash_is_used_and_existing_object_is_kept(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    first = store.put_bytes(b"same bytes")
    src = _file(tmp_path / "again.bin", b"same bytes")
    obj = store.put_local_file(src, hashlib.sha256(b"same bytes").hexdigest())
    assert (obj.sha256, obj.size) == (first.sha256, 10)
    assert not src.exists()  # the duplicate is dropped, the stored object stays
    assert store.get_bytes(obj.sha256) == b"same bytes"


def test_copy_leaves_the_file(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    src = _file(tmp_path / "keep.bin", b"keep me")
    obj = store.put_local_file(src, move=False)
    assert src.read_bytes() == b"keep me"
    assert store.get_bytes(obj.sha256) == b"keep me"


def test_remote_root_copies_then_removes_when_moving(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    if memory.exists("/put-local"):
        memory.rm("/put-local", recursive=True)
    store = FsspecArtifactStore("memory://put-local")
    src = _file(tmp_path / "remote.bin", b"to memory")
    obj = store.put_local_file(src)
    assert not src.exists()
    assert store.local_path(obj.sha256) is None
    assert store.get_bytes(obj.sha256) == b"to memory"
