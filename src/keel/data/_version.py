"""``DatasetVersion``: an immutable, content-addressed Parquet snapshot with its facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.artifacts import sha256_file
from keel.data._report import ValidationReport
from keel.store import DatasetVersionRecord, LineageNode

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from keel.artifacts import ArtifactStore

__all__ = ["ColumnSchema", "DatasetSchema", "DatasetVersion", "sha256_file"]


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """One column: name, logical type, Arrow type, and whether it holds nulls.

    ``nullable`` is what the data shows: ``True`` when this version has a null in the column.
    """

    name: str
    type: str
    arrow_type: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "name": self.name,
            "type": self.type,
            "arrow_type": self.arrow_type,
            "nullable": self.nullable,
        }


@dataclass(frozen=True, slots=True)
class DatasetSchema:
    """The ordered columns of a dataset version."""

    columns: tuple[ColumnSchema, ...]

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: ``{"columns": [...]}``."""
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(
                ColumnSchema(c["name"], c["type"], c.get("arrow_type", ""), bool(c.get("nullable")))
                for c in data.get("columns", ())
            )
        )


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a named dataset.

    The data is a Parquet file in the artifact store, addressed by ``content_hash``
    (its sha256); reading verifies it.

    Attributes:
        id: unique id of this version.
        name: the dataset name.
        version: 1, 2, 3, ... per name.
        content_hash: sha256 of the normalised Parquet bytes.
        num_rows: number of rows.
        size_bytes: size of the Parquet file.
        schema: column names, logical types and nullability.
        profile: statistics per column (see ``docs/guides/datasets.md``).
        source_uri: where the data came from.
        created_by: who registered it.
        created_at: when, in milliseconds since the epoch.
        valid: ``False`` only when registered with ``allow_invalid=True`` despite failing
            expectations.
        validation: the validation report, or ``None`` when no expectations were given.
        description: free text.
        tags: string key/values.
        parent_ids: ids of the versions this one was derived from (a split's parent).
        derivation: how it was derived (``{"kind": "split", ...}``), or ``None``.
        created: what :func:`keel.datasets.register` did: ``True`` when it registered
            this version, ``False`` when the name already had this exact content (the
            existing version is returned, unchanged); ``None`` for a version that was
            read (``get``, ``versions``).

    Example::

        >>> v = keel.datasets.get("iris/1")
        >>> v.to_pandas().shape
        (150, 5)
    """

    id: str
    name: str
    version: int
    content_hash: str
    num_rows: int
    size_bytes: int
    schema: DatasetSchema
    profile: Mapping[str, Any] = field(repr=False, compare=False, hash=False)
    source_uri: str
    created_by: str
    created_at: int
    valid: bool
    validation: ValidationReport | None = field(repr=False, compare=False, hash=False)
    description: str | None = field(repr=False)
    tags: Mapping[str, str] = field(repr=False, compare=False, hash=False)
    parent_ids: tuple[str, ...]
    derivation: Mapping[str, Any] | None = field(repr=False, compare=False, hash=False)
    created: bool | None = field(default=None, repr=False, compare=False, hash=False)
    _artifacts: ArtifactStore | None = field(default=None, repr=False, compare=False, hash=False)

    @classmethod
    def from_record(
        cls,
        record: DatasetVersionRecord,
        artifacts: ArtifactStore | None = None,
        *,
        created: bool | None = None,
    ) -> DatasetVersion:
        """Build from the store's record, reading bytes from ``artifacts`` (those of
        :func:`keel.context.current_context` when ``None``). ``created``: see the attribute.
        """
        return cls(
            id=record.id,
            name=record.name,
            version=record.version,
            content_hash=record.content_hash,
            num_rows=record.num_rows,
            size_bytes=record.size_bytes,
            schema=DatasetSchema.from_dict(record.schema),
            profile=record.profile,
            source_uri=record.source_uri,
            created_by=record.created_by,
            created_at=record.created_at,
            valid=record.valid,
            validation=ValidationReport.from_dict(record.validation)
            if record.validation is not None
            else None,
            description=record.description,
            tags=record.tags,
            parent_ids=record.parent_ids,
            derivation=record.derivation,
            created=created,
            _artifacts=artifacts,
        )

    # -- identity ----------------------------------------------------------------------

    @property
    def reference(self) -> str:
        """``name/version`` (``iris/3``), usable with :func:`keel.datasets.get`."""
        return f"{self.name}/{self.version}"

    @property
    def ref(self) -> str:
        """Deprecated name of :attr:`reference`."""
        import warnings

        from keel.errors import KeelDeprecationWarning

        warnings.warn(
            f"DatasetVersion.ref is deprecated; use DatasetVersion.reference ({self.reference!r})",
            KeelDeprecationWarning,
            stacklevel=2,
        )
        return self.reference

    @property
    def columns(self) -> list[str]:
        """Column names in order."""
        return self.schema.names

    def lineage_node(self) -> LineageNode:
        """This version as a lineage node: ``LineageNode("dataset_version", id, "name/version")``."""
        return LineageNode("dataset_version", self.id, self.reference)

    def __str__(self) -> str:
        """The reference, ``iris/3``: how a version is named in every message."""
        return self.reference

    # -- reading -------------------------------------------------------------------------

    def local_path(self) -> Path:
        """A local Parquet file with this version's data, verified against its sha256.

        For a local artifact root this is the stored object itself (do not modify it);
        for a remote root (``s3://``, a keel server), a verified copy in this user's
        read-through cache (``KEEL_CACHE_DIR``, by default ``~/.cache/keel``; see
        :class:`keel.artifacts.ObjectCache`). A file is hashed once per process, and again
        whenever it changes on disk. Every reader of the data (``to_pandas``,
        ``to_duckdb``, splits, validation) reads this file: :meth:`ArtifactStore.local_file
        <keel.artifacts.ArtifactStore.local_file>`, whatever the backend.

        Raises:
            ArtifactCorruptedError: the bytes no longer match ``content_hash``.
            NotFoundError: the bytes are missing from the artifact store.
            ConfigError: the cache folder belongs to another user.
        """
        return self._artifact_store().local_file(self.content_hash, f"dataset {self.reference}")

    def _artifact_store(self) -> ArtifactStore:
        if self._artifacts is not None:
            return self._artifacts
        from keel.context import current_context

        return current_context().artifacts

    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The data as a pyarrow Table (optionally only some columns)."""
        import pyarrow.parquet as pq

        return pq.read_table(self.local_path(), columns=list(columns) if columns else None)

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The data as a pandas DataFrame (optionally only some columns).

        Example::

            >>> df = keel.datasets.get("iris").to_pandas()
        """
        df: pd.DataFrame = self.to_arrow(columns).to_pandas()
        return df

    def to_polars(self, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The data as a polars DataFrame (needs ``pip install 'keel[data]'``)."""
        try:
            import polars as pl
        except ImportError:
            from keel.errors import MissingExtraError

            raise MissingExtraError.for_extra("polars", "data") from None
        return pl.read_parquet(self.local_path(), columns=list(columns) if columns else None)

    def to_duckdb(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
        """The data as a DuckDB relation, for SQL.

        Args:
            con: the connection to use (a new in-memory one by default).

        Example::

            >>> rel = keel.datasets.get("iris").to_duckdb()
            >>> rel.filter("sepal_length > 5").aggregate("count(*)").fetchall()

        With duckdb 2.0, fetch results with ``.fetchall()``, ``.df()``, ``.pl()`` or
        ``.to_arrow_table()``: ``.arrow()`` returns a reader that blocks the connection
        until it is consumed.
        """
        import duckdb

        con = con if con is not None else duckdb.connect()
        return con.read_parquet(str(self.local_path()))

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` rows as a pandas DataFrame (reads only what it needs)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        batches = []
        remaining = max(0, n)
        with pq.ParquetFile(self.local_path()) as f:
            for batch in f.iter_batches(batch_size=max(1, min(remaining, 65536))):
                if remaining <= 0:
                    break
                batches.append(batch.slice(0, remaining))
                remaining -= batch.num_rows
            schema = f.schema_arrow
        df: pd.DataFrame = pa.Table.from_batches(batches, schema=schema).to_pandas()
        return df
