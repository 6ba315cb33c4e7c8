"""Artifact bytes: content-addressed by sha256, written atomically, verified on read."""

from __future__ import annotations

from keel.artifacts._paths import check_artifact_path
from keel.artifacts._store import ArtifactStore, StoredObject

__all__ = ["ArtifactStore", "StoredObject", "check_artifact_path"]
