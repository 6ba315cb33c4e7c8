"""The metadata store: one ``Store`` of typed per-domain interfaces, chosen by URI.

Example::

    >>> from keel.store import open_store
    >>> with open_store("sqlite:///tmp/keel.db") as store:
    ...     exp = store.tracking.get_or_create_experiment("iris")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.store._access import (
        DEFAULT_PROJECT,
        SYSTEM_PROJECT,
        AccessStore,
        Identity,
        Project,
        TokenInfo,
        User,
        check_project_name,
    )
    from keel.store._audit import (
        ROLES,
        AuditEntry,
        AuditEvent,
        ChainVerification,
        GovernanceStore,
        RoleGrant,
        role_at_least,
    )
    from keel.store._datasets import (
        DatasetStore,
        DatasetSummary,
        DatasetVersionRecord,
        NewDatasetVersion,
    )
    from keel.store._endpoints import Endpoint, EndpointRevision, EndpointStore
    from keel.store._entities import ArtifactRecord, Experiment, Metric, Run, RunStatus
    from keel.store._features import FeatureChange, FeatureDefinition, FeatureStore
    from keel.store._filter import parse_filter, parse_order_by
    from keel.store._gateway import ServiceGateway
    from keel.store._interfaces import Store, TrackingStore
    from keel.store._lineage import LineageEdge, LineageGraph, LineageNode, LineageStore
    from keel.store._migratable import Migratable
    from keel.store._monitors import (
        AlertDraft,
        Monitor,
        MonitorAlert,
        MonitorResult,
        MonitorRevision,
        MonitorStore,
    )
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
    from keel.store._wire import from_wire, to_wire

# public name -> the module defining it; loaded on first access (PEP 562), so opening a
# store for runs does not build the registry's and the pipelines' entity classes.
_EXPORTS: dict[str, str] = {
    "DEFAULT_PROJECT": "keel.store._access",
    "ROLES": "keel.store._audit",
    "SYSTEM_PROJECT": "keel.store._access",
    "AccessStore": "keel.store._access",
    "ServiceGateway": "keel.store._gateway",
    "from_wire": "keel.store._wire",
    "to_wire": "keel.store._wire",
    "Alias": "keel.store._registry",
    "AliasMove": "keel.store._registry",
    "ArtifactRecord": "keel.store._entities",
    "AuditEntry": "keel.store._audit",
    "AuditEvent": "keel.store._audit",
    "ChainVerification": "keel.store._audit",
    "CheckResult": "keel.store._registry",
    "DatasetStore": "keel.store._datasets",
    "DatasetSummary": "keel.store._datasets",
    "DatasetVersionRecord": "keel.store._datasets",
    "Endpoint": "keel.store._endpoints",
    "EndpointRevision": "keel.store._endpoints",
    "EndpointStore": "keel.store._endpoints",
    "Experiment": "keel.store._entities",
    "AlertDraft": "keel.store._monitors",
    "Monitor": "keel.store._monitors",
    "MonitorAlert": "keel.store._monitors",
    "MonitorResult": "keel.store._monitors",
    "MonitorRevision": "keel.store._monitors",
    "MonitorStore": "keel.store._monitors",
    "FeatureChange": "keel.store._features",
    "FeatureDefinition": "keel.store._features",
    "FeatureStore": "keel.store._features",
    "GateResult": "keel.store._registry",
    "GovernanceStore": "keel.store._audit",
    "Identity": "keel.store._access",
    "LineageEdge": "keel.store._lineage",
    "LineageGraph": "keel.store._lineage",
    "LineageNode": "keel.store._lineage",
    "LineageStore": "keel.store._lineage",
    "Migratable": "keel.store._migratable",
    "Metric": "keel.store._entities",
    "ModelFile": "keel.store._registry",
    "ModelStateError": "keel.store._registry",
    "ModelVersion": "keel.store._registry",
    "ModelVersionDraft": "keel.store._registry",
    "ModelVersionStatus": "keel.store._registry",
    "NewDatasetVersion": "keel.store._datasets",
    "PipelineRun": "keel.store._pipelines",
    "PipelineRunStatus": "keel.store._pipelines",
    "PipelineStore": "keel.store._pipelines",
    "Project": "keel.store._access",
    "RegisteredModel": "keel.store._registry",
    "RegistryStore": "keel.store._registry",
    "RoleGrant": "keel.store._audit",
    "Run": "keel.store._entities",
    "RunStatus": "keel.store._entities",
    "StepInput": "keel.store._pipelines",
    "StepOutput": "keel.store._pipelines",
    "StepRun": "keel.store._pipelines",
    "StepStatus": "keel.store._pipelines",
    "Store": "keel.store._interfaces",
    "TokenInfo": "keel.store._access",
    "TrackingStore": "keel.store._interfaces",
    "User": "keel.store._access",
    "check_project_name": "keel.store._access",
    "parse_filter": "keel.store._filter",
    "parse_order_by": "keel.store._filter",
    "role_at_least": "keel.store._audit",
}

__all__ = [
    "DEFAULT_PROJECT",
    "ROLES",
    "SYSTEM_PROJECT",
    "AccessStore",
    "AlertDraft",
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
    "Endpoint",
    "EndpointRevision",
    "EndpointStore",
    "Experiment",
    "FeatureChange",
    "FeatureDefinition",
    "FeatureStore",
    "GateResult",
    "GovernanceStore",
    "Identity",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "LineageStore",
    "Metric",
    "Migratable",
    "ModelFile",
    "ModelStateError",
    "ModelVersion",
    "ModelVersionDraft",
    "ModelVersionStatus",
    "Monitor",
    "MonitorAlert",
    "MonitorResult",
    "MonitorRevision",
    "MonitorStore",
    "NewDatasetVersion",
    "PipelineRun",
    "PipelineRunStatus",
    "PipelineStore",
    "Project",
    "RegisteredModel",
    "RegistryStore",
    "RoleGrant",
    "Run",
    "RunStatus",
    "ServiceGateway",
    "StepInput",
    "StepOutput",
    "StepRun",
    "StepStatus",
    "Store",
    "TokenInfo",
    "TrackingStore",
    "User",
    "check_project_name",
    "from_wire",
    "open_store",
    "parse_filter",
    "parse_order_by",
    "role_at_least",
    "to_wire",
    "upgrade_store",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keel.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def open_store(uri: str, *, project: str = "default", settings: Settings | None = None) -> Store:
    """Build the store for a URI, bound to one project (no I/O until it is used or opened).

    Args:
        uri: ``sqlite:///PATH``, ``postgresql+psycopg://...`` (``postgresql://`` works
            too), or a keel server's ``http://`` / ``https://`` URL.
        project: the project whose objects the store reads and writes.
        settings: the settings in force; backend-only options come from them (SQLite's
            ``synchronous`` pragma, a server's token). Defaults when ``None``.

    Raises:
        InvalidArgumentError: the URI's scheme is not supported, or ``project`` is not a
            project name.

    Example::

        >>> with open_store("sqlite:///tmp/keel.db") as store:
        ...     store.tracking.list_experiments()
    """
    from keel.store._open import build_store

    return build_store(uri, project=project, settings=settings)


def upgrade_store(store: Store) -> list[str]:
    """Apply pending migrations (``keel db upgrade``); returns the heads now in force.

    Raises:
        InvalidArgumentError: the store has no migrations of its own (a keel server's
            store: its server upgrades its database).
    """
    from keel.store._migratable import Migratable

    if not isinstance(store, Migratable):
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"the store {store.uri} has no schema migrations to apply from here; run "
            "`keel db upgrade` where its database is (on the keel server)"
        )
    return store.upgrade_schema()
