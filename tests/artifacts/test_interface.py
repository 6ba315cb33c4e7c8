"""The ArtifactStore interface: open_artifacts picks a backend by scheme, the fsspec backend
keeps the contract, and the data layer reads through the interface only (a backend of
this test's own, with no files of its own, serves datasets to DuckDB and pandas)."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd
import pytest

import keel
from keel.artifacts import (
    ArtifactStore,
    FsspecArtifactStore,
    ObjectCache,
    StoredObject,
    open_artifacts,
)
from keel.config import Settings
from keel.context import Context, use_context
from keel.errors import ArtifactCorruptedError, InvalidArgumentError, NotFoundError


class DictArtifactStore(ArtifactStore):
    """Objects in a dict, read through a verified cache: what a remote backend looks like."""

    def __init__(self, cache_dir: Path) -> None:
        self.objects: dict[str, bytes] = {}
        self.reads = 0
        self._cache = ObjectCache(cache_dir)

    @property
    def root(self) -> str:
        return "dict://test"

    def put_stream(self, stream: IO[bytes]) -> StoredObject:
        return self.put_bytes(stream.read())

    def put_file(self, path: str | Path) -> StoredObject:
        return self.put_bytes(Path(path).read_bytes())

    def put_bytes(self, data: bytes) -> StoredObject:
        sha = hashlib.sha256(data).hexdigest()
        self.objects[sha] = data
        return StoredObject(sha, len(data))

    def put_local_file(
        self, path: str | Path, sha256: str | None = None, *, move: bool = True
    ) -> StoredObject:
        stored = self.put_file(path)
        if move:
            Path(path).unlink()
        return stored

    def exists(self, sha256: str) -> bool:
        return sha256 in self.objects

    def _data(self, sha256: str, name: str) -> bytes:
        if sha256 not in self.objects:
            raise NotFoundError(f"{name} is missing")
        self.reads += 1
        return self.objects[sha256]

    def get_bytes(self, sha256: str, name: str = "artifact") -> bytes:
        data = self._data(sha256, name)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactCorruptedError(f"{name} is corrupted")
        return data

    def open_chunks(self, sha256: str, name: str = "artifact") -> Iterator[bytes]:
        return iter([self.get_bytes(sha256, name)])

    def download(self, sha256: str, dest: str | Path, name: str = "artifact") -> Path:
        Path(dest).write_bytes(self.get_bytes(sha256, name))
        return Path(dest)

    def local_file(self, sha256: str, name: str = "artifact") -> Path:
        return self._cache.get(sha256, lambda: iter([self._data(sha256, name)]), name=name)


def test_every_method_of_the_interface_but_close_is_abstract() -> None:
    assert ArtifactStore.__abstractmethods__ == {
        "root",
        "put_stream",
        "put_file",
        "put_bytes",
        "put_local_file",
        "exists",
        "get_bytes",
        "open_chunks",
        "download",
        "local_file",
    }
    with pytest.raises(TypeError):
        ArtifactStore()  # type: ignore[abstract]
    # close() releases connections; a store that holds none inherits the no-op
    assert "close" in vars(ArtifactStore)


def test_datasets_read_through_any_artifact_store(keel_home: Path, tmp_path: Path) -> None:
    arts = DictArtifactStore(tmp_path / "cache")
    ctx = Context(Settings(home=keel_home), artifacts=arts)
    frame = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8], "y": list("abababab")})
    with use_context(ctx):
        v = keel.datasets.register(frame, "anywhere")
        assert v.content_hash in arts.objects
        assert not list((keel_home / "artifacts").glob("objects/*/*"))  # nothing local
        rel = keel.datasets.get("anywhere").to_duckdb()
        assert rel.aggregate("sum(x)").fetchall() == [(36,)]
        pd.testing.assert_frame_equal(keel.datasets.get("anywhere/1").to_pandas(), frame)
        reads = arts.reads
        keel.datasets.get("anywhere").to_arrow()  # served by the verified cached copy
        assert arts.reads == reads
        parts = keel.datasets.split("anywhere", {"a": 0.5, "b": 0.5}, seed=1)
        assert sum(p.num_rows for p in parts.values()) == 8
        report = keel.datasets.validate("anywhere/1", {"columns": {"x": {"min": 0}}})
        assert report.passed
    ctx.close()


def test_open_artifacts_chooses_by_scheme(tmp_path: Path) -> None:
    assert isinstance(open_artifacts(str(tmp_path)), FsspecArtifactStore)
    assert isinstance(open_artifacts("memory://keel-x"), FsspecArtifactStore)
    for url in ("http://127.0.0.1:8080", "https://keel.example"):
        try:
            import keel.artifacts._http  # noqa: F401
        except ModuleNotFoundError:
            with pytest.raises(InvalidArgumentError, match="no HTTP artifact client"):
                open_artifacts(url)


def test_open_chunks_checks_the_hash_after_the_last_chunk(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "root"))
    data = b"x" * (3 << 20)  # three chunks
    obj = store.put_stream(io.BytesIO(data))
    assert b"".join(store.open_chunks(obj.sha256)) == data
    path = store.local_path(obj.sha256)
    assert path is not None
    path.chmod(0o644)
    with path.open("r+b") as f:
        f.seek(len(data) - 1)
        f.write(b"y")
    chunks = store.open_chunks(obj.sha256, "artifact 'big'")
    with pytest.raises(ArtifactCorruptedError, match="artifact 'big' is corrupted"):
        for _ in chunks:
            pass
    with pytest.raises(NotFoundError, match="missing"):
        store.open_chunks("0" * 64)  # raised by the call, before any chunk


def test_local_file_of_a_remote_root_is_a_verified_cached_copy(tmp_path: Path) -> None:
    root = f"memory://keel-{uuid.uuid4().hex}"
    store = FsspecArtifactStore(root, settings=Settings(cache_dir=tmp_path / "cache"))
    obj = store.put_bytes(b"remote bytes")
    path = store.local_file(obj.sha256, "object")
    assert path.read_bytes() == b"remote bytes" and path.is_relative_to(tmp_path / "cache")
    local = FsspecArtifactStore(str(tmp_path / "local"))
    obj = local.put_bytes(b"local bytes")
    assert local.local_file(obj.sha256) == local.local_path(obj.sha256)
    with pytest.raises(NotFoundError):
        local.local_file("1" * 64)
    store.fs.rm(store.fs._strip_protocol(root), recursive=True)
