"""A run's artifacts on a :class:`~keel.context.Context`: write, list and read them.

The functions every writer and reader of run artifacts shares: :class:`keel.Client`
(the SDK) and the services that log a model to a run or read one back (the registry,
the scikit-learn and torch integrations), which are handed a context, not a client.
Bytes go to the context's artifact store under their sha256; the run records the name.

Example::

    >>> write_run_artifact(ctx, run.id, "notes/readme.txt", b"hello")
    >>> read_run_artifact(ctx, run.id, "notes/readme.txt")
    b'hello'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from keel._clock import now_ms
from keel.artifacts import StoredObject, check_artifact_path
from keel.context import Context
from keel.errors import NotFoundError
from keel.store import ArtifactRecord

__all__ = [
    "list_run_artifacts",
    "read_run_artifact",
    "record_run_artifact",
    "resolve_run_id",
    "run_artifact",
    "write_run_artifact",
    "write_run_json",
]


def resolve_run_id(context: Context, run_id: str) -> str:
    """The full id of a run given by id or unique id prefix."""
    if len(run_id) == 32:
        return run_id
    return context.store.tracking.resolve_run_id(run_id)


def record_run_artifact(
    context: Context, run_id: str, path: str, stored: StoredObject
) -> ArtifactRecord:
    """Record bytes already in the artifact store as the run's artifact ``path``.

    Raises:
        InvalidPathError: ``path`` is not a safe artifact name.
        RunStateError: the run has ended.
    """
    check_artifact_path(path)
    record = ArtifactRecord(path, stored.size, stored.sha256, now_ms())
    context.store.tracking.record_artifact(run_id, record)
    return record


def write_run_artifact(context: Context, run_id: str, path: str, data: bytes) -> ArtifactRecord:
    """Store ``data`` as the run's artifact ``path`` (replacing an artifact of that name).

    Raises:
        InvalidPathError: ``path`` is not a safe artifact name.
        RunStateError: the run has ended.
    """
    check_artifact_path(path)
    return record_run_artifact(context, run_id, path, context.artifacts.put_bytes(data))


def write_run_json(
    context: Context, run_id: str, path: str, value: Mapping[str, Any]
) -> ArtifactRecord:
    """Store a mapping as the run's JSON artifact ``path`` (how ``Client.log_dict`` writes it)."""
    text = json.dumps(value, indent=2, default=str, allow_nan=True)
    return write_run_artifact(context, run_id, path, text.encode("utf-8"))


def list_run_artifacts(context: Context, run_id: str, path: str = "") -> list[ArtifactRecord]:
    """The run's artifacts under the folder ``path`` (all when empty), sorted by path."""
    prefix = ""
    if path:
        check_artifact_path(path)
        prefix = path.rstrip("/")
    records = context.store.tracking.list_artifacts(resolve_run_id(context, run_id), prefix)
    return [r for r in records if not prefix or r.path == prefix or r.path.startswith(prefix + "/")]


def run_artifact(context: Context, run_id: str, path: str) -> ArtifactRecord:
    """The record of the run's artifact ``path``.

    Raises:
        NotFoundError: the run has no such artifact (the message lists those it has).
    """
    check_artifact_path(path)
    for record in list_run_artifacts(context, run_id, path):
        if record.path == path:
            return record
    names = [r.path for r in list_run_artifacts(context, run_id)]
    raise NotFoundError(
        f"run {run_id} has no artifact {path!r}; it has: {', '.join(names[:20]) or 'none'}"
    )


def read_run_artifact(context: Context, run_id: str, path: str) -> bytes:
    """The verified bytes of the run's artifact ``path``.

    Raises:
        NotFoundError: the run has no such artifact, or its bytes are gone.
        ArtifactCorruptedError: the bytes no longer match their sha256.
    """
    record = run_artifact(context, run_id, path)
    return context.artifacts.get_bytes(record.sha256, name=f"artifact {path!r}")
