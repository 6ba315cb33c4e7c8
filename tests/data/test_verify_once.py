"""Local dataset reads verify the Parquet file once per process, and again when it changes.

``keel.artifacts._cache.VERIFIED.hashes`` counts the files actually hashed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.artifacts._cache import VERIFIED
from keel.errors import ArtifactCorruptedError

FRAME = pd.DataFrame({"x": list(range(50)), "label": ["ab"[i % 2] for i in range(50)]})


def _object(client, v) -> Path:
    path = client.artifacts.local_path(v.content_hash)
    assert path is not None and path.is_file()
    return path


def _flip_a_byte(path: Path, at: int = 20) -> None:
    """Change the content in place: same size, same inode."""
    path.chmod(0o644)
    with path.open("r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_unchanged_file_is_hashed_once_per_process(client) -> None:
    v = keel.datasets.register(FRAME, "once")
    VERIFIED.forget(_object(client, v))  # as in a process that did not register it
    before = VERIFIED.hashes
    v.to_pandas()
    assert VERIFIED.hashes == before + 1
    for read in (v.to_pandas, v.to_arrow, v.head, v.to_duckdb, keel.datasets.get("once").to_pandas):
        read()
    assert VERIFIED.hashes == before + 1


def test_registering_process_does_not_hash_its_new_file_again(client) -> None:
    """register() hashed the file it moved into the store; reading it back needs no hash."""
    before = VERIFIED.hashes
    v = keel.datasets.register(FRAME, "once")
    pd.testing.assert_frame_equal(v.to_pandas(), FRAME)
    assert VERIFIED.hashes == before


def test_other_process_verifies_for_itself(client) -> None:
    import subprocess
    import sys

    v = keel.datasets.register(FRAME, "once")
    _flip_a_byte(_object(client, v))
    code = "import keel; keel.datasets.get('once/1').to_pandas()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "dataset once/1 is corrupted" in proc.stderr


def test_tampered_file_is_caught_on_the_next_read(client) -> None:
    v = keel.datasets.register(FRAME, "once")
    pd.testing.assert_frame_equal(v.to_pandas(), FRAME)
    path = _object(client, v)
    size = path.stat().st_size
    _flip_a_byte(path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert path.stat().st_size == size
    with pytest.raises(ArtifactCorruptedError, match="dataset once/1 is corrupted"):
        v.to_pandas()
    with pytest.raises(ArtifactCorruptedError):  # and stays refused
        keel.datasets.get("once").head()


def test_tamper_that_puts_the_mtime_back_is_caught_too(client) -> None:
    """The change still moves the file's ctime, which no user can set back."""
    v = keel.datasets.register(FRAME, "once")
    v.to_pandas()
    path = _object(client, v)
    st = path.stat()
    _flip_a_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with pytest.raises(ArtifactCorruptedError):
        v.to_pandas()


def test_replaced_file_is_hashed_again(client) -> None:
    """A new inode (the file renamed over) is a new file, even with the same bytes."""
    v = keel.datasets.register(FRAME, "once")
    v.to_pandas()
    path = _object(client, v)
    copy = path.with_name("copy")
    copy.write_bytes(path.read_bytes())
    copy.replace(path)
    before = VERIFIED.hashes
    pd.testing.assert_frame_equal(v.to_pandas(), FRAME)
    assert VERIFIED.hashes == before + 1
