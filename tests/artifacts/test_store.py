"""The content-addressed artifact store on a local folder."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from keel.artifacts import FsspecArtifactStore
from keel.errors import ArtifactCorruptedError, NotFoundError


def test_put_get_and_dedupe(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    a = store.put_bytes(b"hello")
    b = store.put_bytes(b"hello")
    assert a.sha256 == b.sha256 == hashlib.sha256(b"hello").hexdigest() and a.size == 5
    assert store.get_bytes(a.sha256) == b"hello"
    objects = list((tmp_path / "root" / "objects").rglob("*.*")) + [
        p for p in (tmp_path / "root" / "objects").rglob("*") if p.is_file()
    ]
    assert len({p for p in objects if p.is_file()}) == 1
    assert not any((tmp_path / "root" / "tmp").iterdir())  # no temp file left behind


def test_large_stream_is_hashed_in_chunks(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    data = bytes(range(256)) * 20_000  # 5 MB, several chunks
    obj = store.put_stream(io.BytesIO(data))
    assert obj.size == len(data)
    out = store.download(obj.sha256, tmp_path / "copy.bin")
    assert out.read_bytes() == data


def test_corruption_is_detected_and_named(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    obj = store.put_bytes(b"model bytes")
    path = tmp_path / "root" / "objects" / obj.sha256[:2] / obj.sha256
    path.write_bytes(b"evil bytes")
    with pytest.raises(ArtifactCorruptedError, match="'model.skops' is corrupted"):
        store.get_bytes(obj.sha256, name="'model.skops'")
    with pytest.raises(ArtifactCorruptedError):
        store.download(obj.sha256, tmp_path / "dest.bin")
    assert not (tmp_path / "dest.bin").exists()
    assert not list(tmp_path.glob(".dest.bin*"))


def test_missing_object_says_where_it_looked(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    with pytest.raises(NotFoundError, match="missing from the artifact store"):
        store.get_bytes("ab" * 32)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("disk gone")
            return b"x" * 1000

    store = FsspecArtifactStore(str(tmp_path / "root"))
    with pytest.raises(OSError, match="disk gone"):
        store.put_stream(Broken())  # type: ignore[arg-type]
    assert not any((tmp_path / "root" / "tmp").iterdir())
    assert not (tmp_path / "root" / "objects").exists()
