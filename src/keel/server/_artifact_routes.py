"""Artifact bytes over HTTP: streamed both ways, verified on both ends, per project.

``PUT .../artifacts/{sha256}`` streams the body to a temporary file while hashing it (never
holding it in memory); only if the bytes hash to the declared sha256 are they moved into
the artifact store, and the project is recorded as holding them. ``GET`` streams them
back, and the client hashes what it receives. A project reads only the bytes it holds:
bytes another project uploaded are "not found" here, whether or not they exist.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Path as PathParam, Request
from starlette.responses import Response, StreamingResponse

from keel.errors import (
    ArtifactCorruptedError,
    InvalidPathError,
    NotFoundError,
    PayloadTooLargeError,
)
from keel.server._context import RequestState, request_state

__all__ = ["artifact_router"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_P = "/api/v1/projects/{project}/artifacts/{sha256}"

Sha256 = Annotated[str, PathParam(description="the sha256 of the bytes, 64 lowercase hex digits")]


def _checked(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise InvalidPathError(
            f"{sha256[:80]!r} is not a sha256; artifacts are addressed by the 64 lowercase hex "
            "digits of their content's sha256"
        )
    return sha256


def _not_found(sha256: str, project: str) -> NotFoundError:
    return NotFoundError(
        f"project {project!r} holds no bytes with sha256 {sha256[:12]}...; upload them first"
    )


def artifact_router(upload_dir: Path, max_upload_bytes: int) -> APIRouter:
    """Upload, download and existence routes for artifact bytes.

    Args:
        upload_dir: where uploads are spooled while they are hashed.
        max_upload_bytes: the largest upload accepted (413 above).
    """
    router = APIRouter(tags=["artifacts"])

    @router.put(_P, status_code=201, name="artifacts.upload")
    async def upload(request: Request, project: str, sha256: Sha256) -> Response:
        """Store bytes under their sha256 (streamed; refused if they hash otherwise)."""
        state = request_state(request)
        expected = _checked(sha256)
        upload_dir.mkdir(parents=True, exist_ok=True)
        spool = upload_dir / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with spool.open("wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_upload_bytes:
                        raise PayloadTooLargeError(
                            f"the upload is larger than this server accepts "
                            f"({max_upload_bytes} bytes); nothing was stored"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            actual = digest.hexdigest()
            if actual != expected:
                raise ArtifactCorruptedError(
                    f"the uploaded bytes hash to {actual[:12]}..., not the declared "
                    f"{expected[:12]}...; nothing was stored (the upload was damaged or the "
                    "wrong file was sent)"
                )
            await anyio.to_thread.run_sync(_store, state, spool, actual)
        finally:
            spool.unlink(missing_ok=True)
        return Response(
            f'{{"sha256":"{expected}","size":{size}}}',
            status_code=201,
            media_type="application/json",
        )

    @router.get(_P, name="artifacts.download", response_class=StreamingResponse)
    def download(request: Request, project: str, sha256: Sha256) -> Response:
        """The bytes (streamed); the client verifies them against the sha256."""
        state = request_state(request)
        _checked(sha256)
        if not state.project_has_object(sha256) or not state.artifacts.exists(sha256):
            raise _not_found(sha256, project)
        chunks = state.artifacts.open_chunks(sha256, f"artifact {sha256[:12]}...")
        first = next(chunks, b"")  # errors before the first byte still become problems

        def body() -> Iterator[bytes]:
            yield first
            yield from chunks

        return StreamingResponse(
            body(), media_type="application/octet-stream", headers={"X-Keel-Sha256": sha256}
        )

    @router.head(_P, name="artifacts.exists")
    def exists(request: Request, project: str, sha256: Sha256) -> Response:
        """200 if the project holds these bytes, 404 otherwise."""
        state = request_state(request)
        _checked(sha256)
        found = state.project_has_object(sha256) and state.artifacts.exists(sha256)
        return Response(status_code=200 if found else 404)

    return router


def _store(state: RequestState, spool: Path, sha256: str) -> None:
    assert state.project is not None  # an artifact route is always a project's
    state.artifacts.put_local_file(spool, sha256, move=True)
    state.hub.access.add_project_objects(state.project, [sha256])
