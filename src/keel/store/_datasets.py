"""Dataset entities and interface: immutable, content-addressed dataset versions.

The store keeps only metadata (schema, profile, validation report, lineage pointers);
the Parquet bytes live in the artifact store under ``content_hash``. Version numbers
count up per dataset name (1, 2, 3, ...) and are assigned by the store, safely under
concurrent registration. Registering content whose hash the name already has returns
the existing version instead of a duplicate.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.store._lineage import LineageNode

__all__ = ["DatasetStore", "DatasetSummary", "DatasetVersionRecord", "NewDatasetVersion"]


@dataclass(frozen=True, slots=True)
class NewDatasetVersion:
    """What a caller knows about a dataset version before the store numbers it.

    Attributes:
        name: the dataset name (already checked by the caller).
        content_hash: sha256 of the normalised Parquet bytes (the artifact's address).
        size_bytes: size of those bytes.
        num_rows: number of rows.
        schema: JSON-able schema (``{"columns": [...]}``).
        profile: JSON-able profile.
        source_uri: where the data came from (path, URL or ``dataframe:<type>``).
        created_by: the actor who registered it.
        created_at: milliseconds since the epoch.
        valid: whether it passed its expectations (``True`` when none were given).
        validation: JSON-able validation report, or ``None`` when no expectations ran.
        description: free text.
        tags: string key/values.
        parent_ids: ids of the versions it was derived from (e.g. a split's parent).
        derivation: JSON-able description of how it was derived, or ``None``.
    """

    name: str
    content_hash: str
    size_bytes: int
    num_rows: int
    schema: Mapping[str, Any]
    profile: Mapping[str, Any]
    source_uri: str
    created_by: str
    created_at: int
    valid: bool = True
    validation: Mapping[str, Any] | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    parent_ids: tuple[str, ...] = ()
    derivation: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DatasetVersionRecord:
    """A stored dataset version: a :class:`NewDatasetVersion` plus its id and number."""

    id: str
    name: str
    version: int
    content_hash: str
    size_bytes: int
    num_rows: int
    schema: Mapping[str, Any] = field(hash=False)
    profile: Mapping[str, Any] = field(hash=False, repr=False)
    source_uri: str
    created_by: str
    created_at: int
    valid: bool
    validation: Mapping[str, Any] | None = field(hash=False, repr=False)
    description: str | None
    tags: Mapping[str, str] = field(hash=False)
    parent_ids: tuple[str, ...]
    derivation: Mapping[str, Any] | None = field(hash=False)

    def lineage_node(self) -> LineageNode:
        """This version as a lineage node (``dataset_version``, id, ``name/version``)."""
        return LineageNode("dataset_version", self.id, f"{self.name}/{self.version}")


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    """One dataset name with its latest version."""

    name: str
    num_versions: int
    latest_version: int
    latest_id: str
    num_rows: int
    created_at: int
    updated_at: int


class DatasetStore(abc.ABC):
    """Named, numbered, immutable dataset versions."""

    @abc.abstractmethod
    def create_version(
        self,
        new: NewDatasetVersion,
        upstream: Sequence[tuple[LineageNode, str]] = (),
    ) -> tuple[DatasetVersionRecord, bool]:
        """Store a version under the next number of its name, in one transaction.

        If the name already has a version with the same ``content_hash``, that version
        is returned instead and nothing new is numbered. Each ``(node, relation)`` in
        ``upstream`` becomes a lineage edge ``node -[relation]-> version``, written in
        the same transaction (for an existing version too: the same content arrived
        from one more source).

        Returns:
            The version and whether it was created (``False``: it existed).
        """

    @abc.abstractmethod
    def record_validation(
        self, version_id: str, validation: Mapping[str, Any], valid: bool
    ) -> DatasetVersionRecord:
        """Record a validation report on a version registered without one.

        A version's content never changes; its validation is a fact about that content
        and the expectations it was checked against, recorded once: when identical
        content is registered again with expectations, the first report is kept on it.

        Returns:
            The version with ``validation`` and ``valid`` set.

        Raises:
            NotFoundError: no version has this id.
            ConflictError: the version already has a validation report.
        """

    @abc.abstractmethod
    def get_version(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        """Version ``version`` of ``name`` (the latest when ``None``).

        Raises ``NotFoundError`` naming the versions that exist.
        """

    @abc.abstractmethod
    def get_version_by_id(self, version_id: str) -> DatasetVersionRecord:
        """The version with this id; ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def find_version_by_hash(self, name: str, hash_prefix: str) -> DatasetVersionRecord:
        """The one version of ``name`` whose content hash starts with ``hash_prefix``.

        Raises ``NotFoundError`` when none or several match.
        """

    @abc.abstractmethod
    def list_datasets(self) -> list[DatasetSummary]:
        """Every dataset name, sorted by name."""

    @abc.abstractmethod
    def list_versions(self, name: str) -> list[DatasetVersionRecord]:
        """Every version of ``name``, oldest first; ``NotFoundError`` if the name is unknown."""
