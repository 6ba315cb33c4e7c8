"""The metadata store: one ``Store`` of typed per-domain interfaces, chosen by URI.

Example::

    >>> from keel.store import open_store
    >>> with open_store("sqlite:///tmp/keel.db") as store:
    ...     exp = store.tracking.get_or_create_experiment("iris")
"""

from __future__ import annotations

from keel.store._audit import (
    AuditEntry,
    AuditEvent,
    ChainVerification,
    GovernanceStore,
    RoleGrant,
)
from keel.store._datasets import (
    DatasetStore,
    DatasetSummary,
    DatasetVersionRecord,
    NewDatasetVersion,
)
from keel.store._entities import ArtifactRecord, Experiment, Metric, Run, RunStatus
from keel.store._filter import parse_filter, parse_order_by
from keel.store._interfaces import Store, TrackingStore
from keel.store._lineage import LineageEdge, LineageGraph, LineageNode, LineageStore
from keel.store._pipelines import (
    PipelineRun,
    PipelineRunStatus,
    PipelineStore,
    StepInput,
    StepOutput,
    StepRun,
    StepStatus,
)
from keel.store._registry import (
    Alias,
    AliasMove,
    CheckResult,
    GateResult,
    ModelFile,
    ModelStateError,
    ModelVersion,
    ModelVersionDraft,
    ModelVersionStatus,
    RegisteredModel,
    RegistryStore,
)

__all__ = [
    "Alias",
    "AliasMove",
    "ArtifactRecord",
    "AuditEntry",
    "AuditEvent",
    "ChainVerification",
    "CheckResult",
    "DatasetStore",
    "DatasetSummary",
    "DatasetVersionRecord",
    "Experiment",
    "GateResult",
    "GovernanceStore",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "LineageStore",
    "Metric",
    "ModelFile",
    "ModelStateError",
    "ModelVersion",
    "ModelVersionDraft",
    "ModelVersionStatus",
    "NewDatasetVersion",
    "PipelineRun",
    "PipelineRunStatus",
    "PipelineStore",
    "RegisteredModel",
    "RegistryStore",
    "RoleGrant",
    "Run",
    "RunStatus",
    "StepInput",
    "StepOutput",
    "StepRun",
    "StepStatus",
    "Store",
    "TrackingStore",
    "open_store",
    "parse_filter",
    "parse_order_by",
    "upgrade_store",
]


def open_store(uri: str, *, sqlite_synchronous: str = "NORMAL") -> Store:
    """Build the store for a URI (no I/O until it is used or opened).

    Args:
        uri: ``sqlite:///PATH`` or ``postgresql+psycopg://...`` (``postgresql://`` works too).
        sqlite_synchronous: SQLite durability level, ``FULL`` or ``NORMAL``.

    Raises:
        InvalidArgumentError: the URI's scheme is not supported.
    """
    from keel._redact import safe_uri
    from keel.errors import InvalidArgumentError

    if uri.startswith(("postgresql://", "postgres://")):
        uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith(("sqlite:///", "postgresql+psycopg://")):
        from keel.store._sql import SqlStore

        return SqlStore(uri, sqlite_synchronous=sqlite_synchronous)
    raise InvalidArgumentError(
        f"store URI {safe_uri(uri)!r} has an unknown scheme; use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DB"
    )


def upgrade_store(store: Store) -> list[str]:
    """Apply pending migrations (``keel db upgrade``); returns the heads now in force."""
    from keel.store._sql import SqlStore

    if not isinstance(store, SqlStore):
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError("only SQL stores have migrations; upgrade the server instead")
    store.open()
    from alembic.runtime.migration import MigrationContext

    with store.database.engine.connect() as conn:
        return sorted(MigrationContext.configure(conn).get_current_heads())
