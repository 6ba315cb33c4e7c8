"""A local S3-compatible server (moto's server mode) on 127.0.0.1, for the tests that need one.

``moto_server`` from the tests' own environment binds a free port on 127.0.0.1 and is
stopped by its PID. Where moto, boto3 or s3fs is missing the tests skip with the reason,
except under ``CI=true``, where the absence fails them (ARCHITECTURE.md, "Real
infrastructure in tests").
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keel_server import free_port

MOTO_SERVER = shutil.which("moto_server", path=str(Path(sys.executable).parent))

#: credentials moto accepts (any value works; these are nobody's)
ACCESS_KEY = "keel-test-access-key"
SECRET_KEY = "keel-test-secret-key-do-not-print"
REGION = "us-east-1"


def require_s3() -> None:
    """Skip (or fail under CI=true) when moto's server, boto3 or s3fs is missing."""
    missing = [m for m in ("moto", "boto3", "s3fs") if importlib.util.find_spec(m) is None]
    if MOTO_SERVER is None:
        missing.append(f"moto_server (next to {sys.executable})")
    if not missing:
        return
    reason = f"an S3-compatible server needs {', '.join(missing)}: pip install 'moto[server]' s3fs"
    if os.environ.get("CI") == "true":
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


class MotoS3:
    """One ``moto_server`` process on 127.0.0.1.

    Args:
        log: the file its output goes to.
    """

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The variables that point boto3 and s3fs at this server, as a deployment sets them."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self, timeout: float = 30.0) -> MotoS3:
        """Start it and wait until it answers."""
        import httpx

        assert MOTO_SERVER is not None
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"moto_server exited:\n{self.log.read_text()[-4000:]}")
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"moto_server did not answer in {timeout} s")

    def stop(self) -> None:
        """Stop it by its PID (SIGKILL if it does not exit in time)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def client(self) -> Any:
        """A boto3 S3 client on this server (credentials passed, not read from the environment)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket."""
        self.client().create_bucket(Bucket=name)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every object in the bucket under ``prefix``: key -> size."""
        s3 = self.client()
        found: dict[str, int] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", ()):
                found[obj["Key"]] = obj["Size"]
        return found

    def get(self, bucket: str, key: str) -> bytes:
        """One object's bytes."""
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
