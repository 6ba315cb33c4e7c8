"""FsspecArtifactStore on an S3 bucket (moto's S3-compatible server on 127.0.0.1).

Where moto, boto3 or s3fs is missing these tests skip with the reason; under ``CI=true``
they fail.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel.artifacts import FsspecArtifactStore, open_artifacts
from keel.errors import ArtifactStoreUnavailableError, MissingExtraError, NotFoundError
from keel_server import free_port
from s3_server import ACCESS_KEY, REGION, SECRET_KEY, MotoS3, require_s3

BUCKET = "keel-artifacts-test"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    require_s3()
    server = MotoS3(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


def _options(endpoint: str) -> dict[str, Any]:
    """Explicit storage options (not the environment), one attempt per call, no shared instance."""
    return {
        "endpoint_url": endpoint,
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "client_kwargs": {"region_name": REGION},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        "skip_instance_cache": True,
    }


def _store(s3: MotoS3, root: str) -> FsspecArtifactStore:
    return FsspecArtifactStore(root, _options(s3.endpoint))


def test_objects_live_at_their_address_and_nothing_is_left_in_tmp(
    s3: MotoS3, tmp_path: Path
) -> None:
    store = _store(s3, f"s3://{BUCKET}/round-trip")
    data = bytes(range(256)) * 5000
    obj = store.put_stream(io.BytesIO(data))
    assert obj.sha256 == hashlib.sha256(data).hexdigest()
    assert store.put_bytes(data) == obj  # identical content is stored once
    assert s3.objects(BUCKET, "round-trip/") == {
        f"round-trip/objects/{obj.sha256[:2]}/{obj.sha256}": len(data)
    }
    assert store.exists(obj.sha256) and not store.is_local
    assert store.get_bytes(obj.sha256) == data
    assert b"".join(store.open_chunks(obj.sha256)) == data
    assert store.download(obj.sha256, tmp_path / "out.bin").read_bytes() == data
    assert store.local_path(obj.sha256) is None
    with pytest.raises(NotFoundError, match="missing from the artifact store"):
        store.get_bytes("0" * 64)


def test_a_file_taken_over_is_uploaded_straight_to_its_key(
    s3: MotoS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(s3, f"s3://{BUCKET}/direct")

    def no_copy(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a file with a known sha256 needs no temporary object to move")

    monkeypatch.setattr(store.fs, "mv", no_copy)
    for given in (True, False):
        data = f"spooled upload, sha256 given: {given}".encode()
        src = tmp_path / f"{given}.part"
        src.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        obj = store.put_local_file(src, sha if given else None)
        assert (obj.sha256, obj.size) == (sha, len(data))
        assert not src.exists()
        assert store.get_bytes(sha) == data
    again = tmp_path / "again.part"
    again.write_bytes(data)
    assert store.put_local_file(again).sha256 == sha  # already there: nothing uploaded
    assert not again.exists()
    assert not [k for k in s3.objects(BUCKET, "direct/") if "/tmp/" in k]


def test_a_missing_bucket_is_an_error_and_is_not_created(s3: MotoS3) -> None:
    store = _store(s3, "s3://no-such-keel-bucket/keel")
    with pytest.raises(ArtifactStoreUnavailableError) as info:
        store.put_bytes(b"where to?")
    message = str(info.value)
    assert message.startswith("the artifact root s3://no-such-keel-bucket/keel could not store")
    assert "does not exist: create it first, keel does not create buckets" in message
    names = [b["Name"] for b in s3.client().list_buckets()["Buckets"]]
    assert "no-such-keel-bucket" not in names
    assert not store.exists("0" * 64)  # reading a missing bucket finds nothing


def test_an_unreachable_endpoint_names_the_root_and_what_to_check() -> None:
    require_s3()
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = FsspecArtifactStore(f"s3://{ACCESS_KEY}:{SECRET_KEY}@{BUCKET}/keel", _options(down))
    for call in (lambda: store.exists("0" * 64), lambda: store.put_bytes(b"x")):
        with pytest.raises(ArtifactStoreUnavailableError) as info:
            call()
        message = str(info.value)
        assert f"the artifact root s3://{ACCESS_KEY}:***@{BUCKET}/keel could not" in message
        assert "AWS_ENDPOINT_URL" in message
        assert SECRET_KEY not in message
        assert info.value.http_status == 503


def test_without_s3fs_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import fsspec.core

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(fsspec.core, "url_to_fs", missing)
    store = open_artifacts("s3://bucket/keel")
    with pytest.raises(MissingExtraError, match=r"pip install 'keel\[s3\]'"):
        store.exists("0" * 64)


def test_a_bug_is_not_reported_as_an_unavailable_store(s3: MotoS3) -> None:
    options = {**_options(s3.endpoint), "no_such_option": 1}
    store = FsspecArtifactStore(f"s3://{BUCKET}/bug", options)
    with pytest.raises(TypeError):
        store.put_bytes(b"x")
