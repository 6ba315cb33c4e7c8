"""The Store domains over HTTP: each method is one operation of the shared table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from keel._transport import Transport
from keel.errors import InvalidArgumentError, RunStateError
from keel.store._audit import (
    AuditedObject,
    AuditEntry,
    AuditEvent,
    AuditHead,
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
from keel.store._endpoints import (
    Endpoint,
    EndpointRevision,
    EndpointStore,
    check_endpoint_name,
    check_endpoint_spec,
)
from keel.store._entities import ArtifactRecord, Experiment, Metric, Run, RunStatus
from keel.store._interfaces import TrackingStore
from keel.store._lineage import LineageEdge, LineageGraph, LineageNode, LineageStore
from keel.store._monitors import (
    AlertDraft,
    Monitor,
    MonitorAlert,
    MonitorResult,
    MonitorRevision,
    MonitorStore,
    check_alert,
    check_monitor_name,
    check_monitor_spec,
    check_result,
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
    GateResult,
    ModelVersion,
    ModelVersionDraft,
    RegisteredModel,
    RegistryStore,
)
from keel.store._wire import from_wire, to_wire
from keel.store.rest._operations import operation
from keel.store.rest._signatures import signature_of

__all__ = [
    "RestDatasetStore",
    "RestEndpointStore",
    "RestGovernanceStore",
    "RestLineageStore",
    "RestMonitorStore",
    "RestPipelineStore",
    "RestRegistryStore",
    "RestTrackingStore",
]


def _segment(name: str, value: Any) -> str:
    """A path parameter, quoted; an empty one would change the route, so it is refused."""
    text = str(to_wire(value))
    if not text:
        raise InvalidArgumentError(f"{name} must not be empty")
    return quote(text, safe="")


class _Domain:
    """Calls the operations of one domain through a :class:`Transport`."""

    _domain = ""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, method: str, **arguments: Any) -> Any:
        op = operation(f"{self._domain}.{method}")
        signature = signature_of(op)
        stamped = {s.split(".", 1)[0] for s in op.stamp if "." not in s}
        path_values = {name: _segment(name, arguments.pop(name)) for name in op.path_params}
        path = self._transport.project_prefix + op.path.format(**path_values)
        rest = {k: v for k, v in arguments.items() if k not in stamped}
        if op.verb in ("GET", "DELETE"):
            params, body = {k: to_wire(v) for k, v in rest.items()}, None
        else:
            params, body = {}, to_wire(rest)
        if op.paged:
            items = list(self._transport.pages(op.verb, path, params=params, json=body))
            return from_wire(signature.returns, items)
        response = self._transport.request(op.verb, path, params=params, json=body)
        if response.status_code == 204:
            return None
        return from_wire(signature.returns, self._transport.json_of(response))


class RestTrackingStore(_Domain, TrackingStore):
    """Experiments and runs on a keel server."""

    _domain = "tracking"

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        result: Experiment = self._call("create_experiment", name=name, tags=tags)
        return result

    def get_experiment(self, experiment_id: str) -> Experiment:
        result: Experiment = self._call("get_experiment", experiment_id=experiment_id)
        return result

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        result: Experiment | None = self._call("get_experiment_by_name", name=name)
        return result

    def get_or_create_experiment(self, name: str) -> Experiment:
        result: Experiment = self._call("get_or_create_experiment", name=name)
        return result

    def list_experiments(self) -> list[Experiment]:
        result: list[Experiment] = self._call("list_experiments")
        return result

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
        # The id is chosen here, so a retry after a lost answer finds the run it made.
        result: Run = self._call(
            "create_run",
            experiment_id=experiment_id,
            name=name,
            tags=tags,
            parent_run_id=parent_run_id,
            user=user,
            start_time=start_time,
            run_id=run_id or uuid.uuid4().hex,
        )
        return result

    def get_run(self, run_id: str) -> Run:
        result: Run = self._call("get_run", run_id=run_id)
        return result

    def resolve_run_id(self, prefix: str) -> str:
        result: str = self._call("resolve_run_id", prefix=prefix)
        return result

    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        end_time: int | None = None,
        error: str | None = None,
        metrics: Sequence[Metric] = (),
    ) -> Run:
        try:
            result: Run = self._call(
                "end_run",
                run_id=run_id,
                status=status,
                end_time=end_time,
                error=error,
                metrics=metrics,
            )
        except RunStateError:
            # Tried more than once: the first try may have ended the run and lost its answer.
            if self._transport.last_attempts() > 1:
                run = self.get_run(run_id)
                if run.status is status:
                    return run
            raise
        return result

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        # Every batch gets an id, so the retries of a batch whose answer was lost are
        # recognised by the store and not written twice.
        self._call(
            "log_batch",
            run_id=run_id,
            metrics=metrics,
            params=params,
            tags=tags,
            batch_id=batch_id or uuid.uuid4().hex,
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        result: list[Metric] = self._call("get_metric_history", run_id=run_id, key=key)
        return result

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
    ) -> list[Run]:
        result: list[Run] = self._call(
            "search_runs",
            experiment_ids=experiment_ids,
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
        )
        return result

    def record_artifact(self, run_id: str, record: ArtifactRecord) -> None:
        self._call("record_artifact", run_id=run_id, record=record)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        result: list[ArtifactRecord] = self._call("list_artifacts", run_id=run_id, prefix=prefix)
        return result


class RestDatasetStore(_Domain, DatasetStore):
    """Dataset versions on a keel server (their bytes travel through the artifact store)."""

    _domain = "datasets"

    def create_version(
        self,
        new: NewDatasetVersion,
        upstream: Sequence[tuple[LineageNode, str]] = (),
    ) -> tuple[DatasetVersionRecord, bool]:
        result: tuple[DatasetVersionRecord, bool] = self._call(
            "create_version", new=new, upstream=upstream
        )
        return result

    def record_validation(
        self, version_id: str, validation: Mapping[str, Any], valid: bool
    ) -> DatasetVersionRecord:
        result: DatasetVersionRecord = self._call(
            "record_validation", version_id=version_id, validation=validation, valid=valid
        )
        return result

    def get_version(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        result: DatasetVersionRecord = self._call("get_version", name=name, version=version)
        return result

    def get_version_by_id(self, version_id: str) -> DatasetVersionRecord:
        result: DatasetVersionRecord = self._call("get_version_by_id", version_id=version_id)
        return result

    def find_version_by_hash(self, name: str, hash_prefix: str) -> DatasetVersionRecord:
        result: DatasetVersionRecord = self._call(
            "find_version_by_hash", name=name, hash_prefix=hash_prefix
        )
        return result

    def list_datasets(self) -> list[DatasetSummary]:
        result: list[DatasetSummary] = self._call("list_datasets")
        return result

    def list_versions(self, name: str) -> list[DatasetVersionRecord]:
        result: list[DatasetVersionRecord] = self._call("list_versions", name=name)
        return result


class RestRegistryStore(_Domain, RegistryStore):
    """Models, versions, aliases and gate results on a keel server."""

    _domain = "registry"

    def create_version(self, draft: ModelVersionDraft, actor: str) -> ModelVersion:
        result: ModelVersion = self._call("create_version", draft=draft, actor=actor)
        return result

    def get_model(self, name: str) -> RegisteredModel:
        result: RegisteredModel = self._call("get_model", name=name)
        return result

    def list_models(self) -> list[RegisteredModel]:
        result: list[RegisteredModel] = self._call("list_models")
        return result

    def get_version(self, name: str, version: int) -> ModelVersion:
        result: ModelVersion = self._call("get_version", name=name, version=version)
        return result

    def list_versions(self, name: str) -> list[ModelVersion]:
        result: list[ModelVersion] = self._call("list_versions", name=name)
        return result

    def archive_version(
        self, name: str, version: int, actor: str, reason: str | None = None
    ) -> ModelVersion:
        result: ModelVersion = self._call(
            "archive_version", name=name, version=version, actor=actor, reason=reason
        )
        return result

    def get_alias(self, name: str, alias: str) -> Alias:
        result: Alias = self._call("get_alias", name=name, alias=alias)
        return result

    def list_aliases(self, name: str) -> list[Alias]:
        result: list[Alias] = self._call("list_aliases", name=name)
        return result

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        expected_revision: int,
        action: str,
        actor: str,
        reason: str | None = None,
        gate_result: GateResult | None = None,
    ) -> Alias:
        result: Alias = self._call(
            "move_alias",
            name=name,
            alias=alias,
            version=version,
            expected_revision=expected_revision,
            action=action,
            actor=actor,
            reason=reason,
            gate_result=gate_result,
        )
        return result

    def delete_alias(
        self, name: str, alias: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        self._call(
            "delete_alias",
            name=name,
            alias=alias,
            expected_revision=expected_revision,
            actor=actor,
            reason=reason,
        )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        result: list[AliasMove] = self._call("alias_history", name=name, alias=alias)
        return result

    def record_gate_result(self, result: GateResult) -> GateResult:
        stored: GateResult = self._call("record_gate_result", result=result)
        return stored

    def audited_state(self) -> list[AuditedObject]:
        result: list[AuditedObject] = self._call("audited_state")
        return result

    def get_gate_result(self, result_id: str) -> GateResult:
        result: GateResult = self._call("get_gate_result", result_id=result_id)
        return result

    def list_gate_results(self, name: str, version: int | None = None) -> list[GateResult]:
        result: list[GateResult] = self._call("list_gate_results", name=name, version=version)
        return result


class RestLineageStore(_Domain, LineageStore):
    """The lineage graph on a keel server."""

    _domain = "lineage"

    def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        self._call("add_edges", edges=edges)

    def upstream(self, node: LineageNode, max_depth: int = 50) -> LineageGraph:
        result: LineageGraph = self._call("upstream", node=node, max_depth=max_depth)
        return result

    def downstream(self, node: LineageNode, max_depth: int = 50) -> LineageGraph:
        result: LineageGraph = self._call("downstream", node=node, max_depth=max_depth)
        return result


class RestGovernanceStore(_Domain, GovernanceStore):
    """The project's audit chain and roles on a keel server."""

    _domain = "governance"

    def append(self, entry: AuditEntry) -> AuditEvent:
        result: AuditEvent = self._call("append", entry=entry)
        return result

    def list_events(
        self,
        object_type: str | None = None,
        object_id: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        result: list[AuditEvent] = self._call(
            "list_events",
            object_type=object_type,
            object_id=object_id,
            actor=actor,
            since=since,
            limit=limit,
        )
        return result

    def read_events(self, after_seq: int = 0, limit: int = 2000) -> list[AuditEvent]:
        result: list[AuditEvent] = self._call("read_events", after_seq=after_seq, limit=limit)
        return result

    def latest_event(
        self, object_type: str, object_id: str, action_prefix: str = ""
    ) -> AuditEvent | None:
        result: AuditEvent | None = self._call(
            "latest_event",
            object_type=object_type,
            object_id=object_id,
            action_prefix=action_prefix,
        )
        return result

    def head(self) -> AuditHead:
        result: AuditHead = self._call("head")
        return result

    def verify(self) -> ChainVerification:
        result: ChainVerification = self._call("verify")
        return result

    def audited_state(self) -> list[AuditedObject]:
        result: list[AuditedObject] = self._call("audited_state")
        return result

    def grant_role(self, user: str, role: str, actor: str) -> RoleGrant:
        result: RoleGrant = self._call("grant_role", user=user, role=role, actor=actor)
        return result

    def revoke_role(self, user: str, role: str, actor: str) -> None:
        self._call("revoke_role", user=user, role=role, actor=actor)

    def list_roles(self, user: str | None = None) -> list[RoleGrant]:
        result: list[RoleGrant] = self._call("list_roles", user=user)
        return result


class RestPipelineStore(_Domain, PipelineStore):
    """Pipeline runs, step runs and the step cache on a keel server."""

    _domain = "pipelines"

    def create_pipeline_run(
        self,
        pipeline_name: str,
        steps: Sequence[tuple[str, Sequence[str]]],
        params: Mapping[str, Any] | None = None,
        user: str = "unknown",
        executor: str = "",
    ) -> PipelineRun:
        result: PipelineRun = self._call(
            "create_pipeline_run",
            pipeline_name=pipeline_name,
            steps=steps,
            params=params,
            user=user,
            executor=executor,
        )
        return result

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        result: PipelineRun = self._call("get_pipeline_run", run_id=run_id)
        return result

    def resolve_pipeline_run_id(self, prefix: str) -> str:
        result: str = self._call("resolve_pipeline_run_id", prefix=prefix)
        return result

    def list_pipeline_runs(
        self, pipeline_name: str | None = None, max_results: int = 100
    ) -> list[PipelineRun]:
        result: list[PipelineRun] = self._call(
            "list_pipeline_runs", pipeline_name=pipeline_name, max_results=max_results
        )
        return result

    def end_pipeline_run(
        self, run_id: str, status: PipelineRunStatus, end_time: int | None = None
    ) -> PipelineRun:
        result: PipelineRun = self._call(
            "end_pipeline_run", run_id=run_id, status=status, end_time=end_time
        )
        return result

    def get_step_run(self, step_run_id: str) -> StepRun:
        result: StepRun = self._call("get_step_run", step_run_id=step_run_id)
        return result

    def start_step_run(
        self,
        step_run_id: str,
        cache_key: str,
        code_hash: str,
        params: Mapping[str, Any],
        inputs: Sequence[StepInput],
        start_time: int | None = None,
    ) -> StepRun:
        result: StepRun = self._call(
            "start_step_run",
            step_run_id=step_run_id,
            cache_key=cache_key,
            code_hash=code_hash,
            params=params,
            inputs=inputs,
            start_time=start_time,
        )
        return result

    def finish_step_run(
        self,
        step_run_id: str,
        status: StepStatus,
        outputs: Sequence[StepOutput] = (),
        *,
        logs: str = "",
        error: str | None = None,
        traceback: str | None = None,
        attempts: int = 0,
        cached_from: str | None = None,
        end_time: int | None = None,
    ) -> StepRun:
        result: StepRun = self._call(
            "finish_step_run",
            step_run_id=step_run_id,
            status=status,
            outputs=outputs,
            logs=logs,
            error=error,
            traceback=traceback,
            attempts=attempts,
            cached_from=cached_from,
            end_time=end_time,
        )
        return result

    def find_cached_step_run(self, cache_key: str) -> StepRun | None:
        result: StepRun | None = self._call("find_cached_step_run", cache_key=cache_key)
        return result


class RestEndpointStore(_Domain, EndpointStore):
    """Endpoints and their revisions on a keel server.

    A change is checked here as the SQL store checks it (the server checks it again), so
    a malformed one gets the same message on every backend without a round trip.
    """

    _domain = "endpoints"

    def create_endpoint(
        self,
        name: str,
        spec: Mapping[str, Any],
        model_versions: Sequence[str],
        actor: str,
        reason: str | None = None,
    ) -> Endpoint:
        check_endpoint_name(name)
        spec, versions = check_endpoint_spec(name, spec, model_versions)
        result: Endpoint = self._call(
            "create_endpoint",
            name=name,
            spec=spec,
            model_versions=list(versions),
            actor=actor,
            reason=reason,
        )
        return result

    def update_endpoint(
        self,
        name: str,
        spec: Mapping[str, Any],
        model_versions: Sequence[str],
        expected_revision: int,
        actor: str,
        reason: str | None = None,
    ) -> Endpoint:
        check_endpoint_name(name)
        spec, versions = check_endpoint_spec(name, spec, model_versions)
        result: Endpoint = self._call(
            "update_endpoint",
            name=name,
            spec=spec,
            model_versions=list(versions),
            expected_revision=expected_revision,
            actor=actor,
            reason=reason,
        )
        return result

    def delete_endpoint(
        self, name: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        self._call(
            "delete_endpoint",
            name=name,
            expected_revision=expected_revision,
            actor=actor,
            reason=reason,
        )

    def get_endpoint(self, name: str) -> Endpoint:
        result: Endpoint = self._call("get_endpoint", name=name)
        return result

    def list_endpoints(self) -> list[Endpoint]:
        result: list[Endpoint] = self._call("list_endpoints")
        return result

    def list_revisions(self, name: str) -> list[EndpointRevision]:
        result: list[EndpointRevision] = self._call("list_revisions", name=name)
        return result

    def audited_state(self) -> list[AuditedObject]:
        result: list[AuditedObject] = self._call("audited_state")
        return result


class RestMonitorStore(_Domain, MonitorStore):
    """Monitors, their results and alerts on a keel server.

    Input is checked here as the SQL store checks it (the server checks it again), so a
    malformed change gets the same message on every backend without a round trip.
    """

    _domain = "monitors"

    def create_monitor(
        self,
        name: str,
        endpoint: str,
        spec: Mapping[str, Any],
        actor: str,
        reason: str | None = None,
    ) -> Monitor:
        check_monitor_name(name)
        check_monitor_name(endpoint, "endpoint")
        result: Monitor = self._call(
            "create_monitor",
            name=name,
            endpoint=endpoint,
            spec=check_monitor_spec(name, spec),
            actor=actor,
            reason=reason,
        )
        return result

    def update_monitor(
        self,
        name: str,
        endpoint: str,
        spec: Mapping[str, Any],
        expected_revision: int,
        actor: str,
        reason: str | None = None,
    ) -> Monitor:
        check_monitor_name(name)
        check_monitor_name(endpoint, "endpoint")
        result: Monitor = self._call(
            "update_monitor",
            name=name,
            endpoint=endpoint,
            spec=check_monitor_spec(name, spec),
            expected_revision=expected_revision,
            actor=actor,
            reason=reason,
        )
        return result

    def delete_monitor(
        self, name: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        check_monitor_name(name)
        self._call(
            "delete_monitor",
            name=name,
            expected_revision=expected_revision,
            actor=actor,
            reason=reason,
        )

    def get_monitor(self, name: str) -> Monitor:
        check_monitor_name(name)
        result: Monitor = self._call("get_monitor", name=name)
        return result

    def list_monitors(self, endpoint: str | None = None) -> list[Monitor]:
        result: list[Monitor] = self._call("list_monitors", endpoint=endpoint)
        return result

    def list_monitor_revisions(self, name: str) -> list[MonitorRevision]:
        check_monitor_name(name)
        result: list[MonitorRevision] = self._call("list_monitor_revisions", name=name)
        return result

    def record_results(
        self, name: str, results: Sequence[MonitorResult], actor: str
    ) -> list[MonitorResult]:
        check_monitor_name(name)
        if isinstance(results, MonitorResult) or not isinstance(results, Sequence):
            raise InvalidArgumentError("results must be a list of MonitorResult")
        for r in results:
            check_result(r, name)
        if not results:
            return []
        result: list[MonitorResult] = self._call(
            "record_results", name=name, results=list(results), actor=actor
        )
        return result

    def list_results(
        self, name: str, check: str | None = None, since: int | None = None
    ) -> list[MonitorResult]:
        check_monitor_name(name)
        result: list[MonitorResult] = self._call(
            "list_results", name=name, check=check, since=since
        )
        return result

    def record_alert(self, name: str, draft: AlertDraft, actor: str) -> tuple[MonitorAlert, bool]:
        check_monitor_name(name)
        check_alert(draft)
        result: tuple[MonitorAlert, bool] = self._call(
            "record_alert", name=name, draft=draft, actor=actor
        )
        return result

    def claim_alert_action(self, name: str, alert_id: str, actor: str) -> bool:
        check_monitor_name(name)
        result: bool = self._call("claim_alert_action", name=name, alert_id=alert_id, actor=actor)
        return result

    def finish_alert_action(
        self, name: str, alert_id: str, status: str, detail: str, actor: str
    ) -> MonitorAlert:
        check_monitor_name(name)
        result: MonitorAlert = self._call(
            "finish_alert_action",
            name=name,
            alert_id=alert_id,
            status=status,
            detail=detail,
            actor=actor,
        )
        return result

    def resolve_alert(self, name: str, alert_id: str, window: str, actor: str) -> MonitorAlert:
        check_monitor_name(name)
        result: MonitorAlert = self._call(
            "resolve_alert", name=name, alert_id=alert_id, window=window, actor=actor
        )
        return result

    def list_alerts(self, name: str, active_only: bool = False) -> list[MonitorAlert]:
        check_monitor_name(name)
        result: list[MonitorAlert] = self._call("list_alerts", name=name, active_only=active_only)
        return result

    def audited_state(self) -> list[AuditedObject]:
        result: list[AuditedObject] = self._call("audited_state")
        return result
