"""The metadata store interfaces: one small typed ABC per domain, grouped by ``Store``.

Every method is abstract: a backend that cannot do something does not implement the
interface, rather than raising ``NotImplementedError`` at run time.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from keel.store._entities import ArtifactRecord, Experiment, Metric, Run, RunStatus

if TYPE_CHECKING:  # the other domains load only when a store's property is used
    from keel.store._access import AccessStore
    from keel.store._audit import GovernanceStore
    from keel.store._datasets import DatasetStore
    from keel.store._endpoints import EndpointStore
    from keel.store._features import FeatureStore
    from keel.store._lineage import LineageStore
    from keel.store._monitors import MonitorStore
    from keel.store._pipelines import PipelineStore
    from keel.store._registry import RegistryStore

__all__ = ["Store", "TrackingStore"]


class TrackingStore(abc.ABC):
    """Experiments, runs, params, tags, metric series and artifact records."""

    @abc.abstractmethod
    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment; ``ConflictError`` if the name is taken."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id; ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or ``None``."""

    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment with this name, created if missing (safe under races)."""

    @abc.abstractmethod
    def list_experiments(self) -> list[Experiment]:
        """All experiments, oldest first."""

    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        user: str = "unknown",
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Start a ``RUNNING`` run in an experiment.

        ``run_id`` (32 lowercase hex digits) lets the caller choose the id, which makes
        creating a run safe to retry: if this project already has a run with that id in
        the same experiment, it is returned and nothing new is made (``ConflictError`` if
        the id is taken otherwise). By default a new id is chosen.
        """

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run with this id (params, tags, latest metrics); ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the one run whose id starts with ``prefix``.

        Raises ``NotFoundError`` naming the nearest ids when none or several match.
        """

    @abc.abstractmethod
    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        end_time: int | None = None,
        error: str | None = None,
        metrics: Sequence[Metric] = (),
    ) -> Run:
        """Mark a run as ended; ``RunStateError`` if it already ended.

        ``metrics`` (the client's last buffered values) are written in the same
        transaction, so ending a run costs one commit, not two. ``StoreError`` when
        the store cannot be reached (nothing is written; the caller may retry).
        """

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Write metrics, params and tags of a running run in one transaction.

        A param whose key exists with another value raises ``ConflictError`` and
        writes nothing. ``StoreError`` when the store cannot be reached (nothing is
        written; the caller may retry); any other error is a refusal that a retry
        cannot change (the run has ended, does not exist, a name is invalid).

        ``batch_id`` (at most 64 characters, unique per batch) makes the call safe to
        retry: a batch whose id was stored already is not stored again, even if the run
        has ended since (a retry after the answer to the first try was lost).
        """

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for ``key``, ordered by step then timestamp."""

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
    ) -> list[Run]:
        """Runs of the experiments matching a filter such as
        ``"metrics.acc > 0.9 and params.model = 'rf'"``, ordered as asked.

        When nothing matches and the filter names a metric, param or tag that no run
        of these experiments has, ``NotFoundError`` names it and the nearest names.
        """

    @abc.abstractmethod
    def record_artifact(self, run_id: str, record: ArtifactRecord) -> None:
        """Record (or replace) an artifact of a running run.

        ``InvalidPathError`` for a path that could leave the run's folder when the
        artifact is downloaded (``..``, absolute, backslashes, NUL, control characters).
        """

    @abc.abstractmethod
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        """Artifacts of a run whose path starts with ``prefix``, sorted by path."""


class Store(abc.ABC):
    """All metadata of keel, one typed interface per domain, bound to one project.

    Every domain but :attr:`access` reads and writes the objects of :attr:`project`
    only: names are unique within a project, and an id of another project's object is
    not found. Open one with :func:`keel.store.open_store`; use it as a context manager
    or call :meth:`close`.
    """

    @property
    @abc.abstractmethod
    def uri(self) -> str:
        """The URI this store was opened from (password removed)."""

    @property
    @abc.abstractmethod
    def project(self) -> str:
        """The project this store is bound to (``default`` unless another was named)."""

    @property
    @abc.abstractmethod
    def access(self) -> AccessStore:
        """Projects, users, tokens and roles across projects (server-wide, not project-bound)."""

    @abc.abstractmethod
    def for_project(self, project: str) -> Store:
        """The same backend and connections, bound to another project (no I/O).

        The returned store's :meth:`close` leaves the shared connections open; close
        this one to release them. ``InvalidArgumentError`` for an invalid name.
        """

    @property
    @abc.abstractmethod
    def tracking(self) -> TrackingStore:
        """Experiments and runs."""

    @property
    @abc.abstractmethod
    def datasets(self) -> DatasetStore:
        """Named, numbered, immutable dataset versions."""

    @property
    @abc.abstractmethod
    def lineage(self) -> LineageStore:
        """Edges between datasets, steps, runs, models and endpoints."""

    @property
    @abc.abstractmethod
    def registry(self) -> RegistryStore:
        """Registered models, versions, aliases and gate results."""

    @property
    @abc.abstractmethod
    def governance(self) -> GovernanceStore:
        """The hash-chained audit log and user roles."""

    @property
    @abc.abstractmethod
    def pipelines(self) -> PipelineStore:
        """Pipeline runs, step runs and the step cache."""

    @property
    @abc.abstractmethod
    def endpoints(self) -> EndpointStore:
        """Served endpoints and their revisions."""

    @property
    @abc.abstractmethod
    def monitors(self) -> MonitorStore:
        """Monitors of endpoints, their results and alerts."""

    @property
    @abc.abstractmethod
    def features(self) -> FeatureStore:
        """Entities, feature views and feature services, every version of each."""

    @abc.abstractmethod
    def open(self) -> None:
        """Connect and bring the schema up to date. Idempotent."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. Idempotent."""

    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
