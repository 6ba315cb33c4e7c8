"""Every Store method as an HTTP operation: the one table the server and the REST store share.

Each :class:`Operation` names a method of a domain interface (``tracking.create_run``),
the HTTP verb and path it is served at (under ``/api/v1/projects/{project}``), the least
role that may call it, and the parameters the server fills in itself with the
authenticated user (a client cannot choose the actor). How arguments travel follows
from the verb and the method's type hints:

* ``{name}`` in the path takes the parameter of that name;
* ``GET`` and ``DELETE`` send the other parameters as query parameters (they are
  scalars);
* ``POST`` and ``PUT`` send them as one JSON object (entities in their wire form,
  :mod:`keel.store._wire`).

The result is the method's return value in wire form; a ``paged`` operation's list is
served a page at a time (``{"items": [...], "next_cursor": ...}``).

The server builds its routes from this table and the REST store calls through it, so
the two cannot drift apart; tests check that every abstract method of every domain
interface has exactly one operation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.store._audit import ROLES

__all__ = ["OPERATIONS", "ROLE_ORDER", "Operation", "operation"]

#: project roles, weakest first
ROLE_ORDER: tuple[str, ...] = ROLES


@dataclass(frozen=True, slots=True)
class Operation:
    """One Store method served over HTTP.

    Attributes:
        domain: the Store property (``tracking``, ``datasets``, ...).
        method: the method of that domain's interface.
        verb: ``GET``, ``POST``, ``PUT`` or ``DELETE``.
        path: the path under the project prefix, with ``{param}`` placeholders.
        role: the least project role allowed to call it.
        stamp: parameters (``actor``) or fields of parameters (``new.created_by``) that
            the server sets to the authenticated user, whatever the client sent.
        paged: the result list is served in pages with an opaque cursor.
        status: the HTTP status of a success.
    """

    domain: str
    method: str
    verb: str
    path: str
    role: str
    stamp: tuple[str, ...] = ()
    paged: bool = False
    status: int = 200

    @property
    def key(self) -> str:
        """``domain.method``."""
        return f"{self.domain}.{self.method}"

    @property
    def path_params(self) -> tuple[str, ...]:
        """The parameters named in the path, in order."""
        return tuple(re.findall(r"{(\w+)}", self.path))


def _op(
    domain: str,
    method: str,
    verb: str,
    path: str,
    role: str,
    *,
    stamp: tuple[str, ...] = (),
    paged: bool = False,
    status: int = 200,
) -> Operation:
    return Operation(domain, method, verb, path, role, stamp, paged, status)


V, E, M, A = ROLE_ORDER

OPERATIONS: tuple[Operation, ...] = (
    # -- tracking ------------------------------------------------------------------------
    _op("tracking", "create_experiment", "POST", "/experiments", E, status=201),
    _op("tracking", "list_experiments", "GET", "/experiments", V, paged=True),
    _op("tracking", "get_experiment", "GET", "/experiments/{experiment_id}", V),
    _op("tracking", "get_experiment_by_name", "GET", "/experiment-by-name", V),
    _op("tracking", "get_or_create_experiment", "PUT", "/experiment-by-name", E),
    _op("tracking", "create_run", "POST", "/runs", E, stamp=("user",), status=201),
    _op("tracking", "get_run", "GET", "/runs/{run_id}", V),
    _op("tracking", "resolve_run_id", "GET", "/run-ids", V),
    _op("tracking", "end_run", "POST", "/runs/{run_id}/end", E),
    _op("tracking", "log_batch", "POST", "/runs/{run_id}/batch", E),
    _op("tracking", "get_metric_history", "GET", "/runs/{run_id}/metric-history", V, paged=True),
    _op("tracking", "search_runs", "POST", "/runs/search", V, paged=True),
    _op("tracking", "record_artifact", "PUT", "/runs/{run_id}/artifacts", E),
    _op("tracking", "list_artifacts", "GET", "/runs/{run_id}/artifacts", V, paged=True),
    # -- datasets ------------------------------------------------------------------------
    _op("datasets", "create_version", "POST", "/dataset-versions", E, stamp=("new.created_by",)),
    _op("datasets", "record_validation", "POST", "/dataset-versions/{version_id}/validation", E),
    _op("datasets", "get_version_by_id", "GET", "/dataset-versions/{version_id}", V),
    _op("datasets", "list_datasets", "GET", "/datasets", V, paged=True),
    _op("datasets", "get_version", "GET", "/datasets/{name}/version", V),
    _op("datasets", "list_versions", "GET", "/datasets/{name}/versions", V, paged=True),
    _op("datasets", "find_version_by_hash", "GET", "/datasets/{name}/by-hash/{hash_prefix}", V),
    # -- registry ------------------------------------------------------------------------
    _op("registry", "create_version", "POST", "/model-versions", E, stamp=("actor",), status=201),
    _op("registry", "list_models", "GET", "/models", V, paged=True),
    _op("registry", "get_model", "GET", "/models/{name}", V),
    _op("registry", "list_versions", "GET", "/models/{name}/versions", V, paged=True),
    _op("registry", "get_version", "GET", "/models/{name}/versions/{version}", V),
    _op(
        "registry",
        "archive_version",
        "POST",
        "/models/{name}/versions/{version}/archive",
        M,
        stamp=("actor",),
    ),
    _op("registry", "list_aliases", "GET", "/models/{name}/aliases", V, paged=True),
    _op("registry", "get_alias", "GET", "/models/{name}/aliases/{alias}", V),
    # Moving an alias with a client-made gate result, or deleting one, bypasses the
    # server's gate: admins only. Maintainers promote through the promotion service.
    _op("registry", "move_alias", "PUT", "/models/{name}/aliases/{alias}", A, stamp=("actor",)),
    _op(
        "registry", "delete_alias", "DELETE", "/models/{name}/aliases/{alias}", A, stamp=("actor",)
    ),
    _op("registry", "alias_history", "GET", "/models/{name}/alias-history", V, paged=True),
    _op("registry", "list_gate_results", "GET", "/models/{name}/gate-results", V, paged=True),
    _op("registry", "record_gate_result", "POST", "/gate-results", A, status=201),
    _op("registry", "get_gate_result", "GET", "/gate-results/{result_id}", V),
    _op("registry", "audited_state", "GET", "/registry/audited-state", V, paged=True),
    # -- endpoints -----------------------------------------------------------------------
    # Changing what is served is a maintainer's call, like promoting a model.
    _op("endpoints", "create_endpoint", "POST", "/endpoints", M, stamp=("actor",), status=201),
    _op("endpoints", "list_endpoints", "GET", "/endpoints", V, paged=True),
    _op("endpoints", "get_endpoint", "GET", "/endpoints/{name}", V),
    _op("endpoints", "update_endpoint", "PUT", "/endpoints/{name}", M, stamp=("actor",)),
    _op("endpoints", "delete_endpoint", "DELETE", "/endpoints/{name}", M, stamp=("actor",)),
    _op("endpoints", "list_revisions", "GET", "/endpoints/{name}/revisions", V, paged=True),
    _op("endpoints", "audited_state", "GET", "/endpoint-audited-state", V, paged=True),
    # -- monitors ------------------------------------------------------------------------
    # Defining what watches an endpoint, and acting on an alert (a rollback), is a
    # maintainer's call; running a monitor (recording results and alerts) an editor's.
    _op("monitors", "create_monitor", "POST", "/monitors", M, stamp=("actor",), status=201),
    _op("monitors", "list_monitors", "GET", "/monitors", V, paged=True),
    _op("monitors", "get_monitor", "GET", "/monitors/{name}", V),
    _op("monitors", "update_monitor", "PUT", "/monitors/{name}", M, stamp=("actor",)),
    _op("monitors", "delete_monitor", "DELETE", "/monitors/{name}", M, stamp=("actor",)),
    _op("monitors", "list_monitor_revisions", "GET", "/monitors/{name}/revisions", V, paged=True),
    _op("monitors", "record_results", "POST", "/monitors/{name}/results", E, stamp=("actor",)),
    _op("monitors", "list_results", "GET", "/monitors/{name}/results", V, paged=True),
    _op("monitors", "record_alert", "POST", "/monitors/{name}/alerts", E, stamp=("actor",)),
    _op("monitors", "list_alerts", "GET", "/monitors/{name}/alerts", V, paged=True),
    _op(
        "monitors",
        "claim_alert_action",
        "POST",
        "/monitors/{name}/alerts/{alert_id}/claim",
        M,
        stamp=("actor",),
    ),
    _op(
        "monitors",
        "finish_alert_action",
        "POST",
        "/monitors/{name}/alerts/{alert_id}/finish",
        M,
        stamp=("actor",),
    ),
    _op(
        "monitors",
        "resolve_alert",
        "POST",
        "/monitors/{name}/alerts/{alert_id}/resolve",
        E,
        stamp=("actor",),
    ),
    _op("monitors", "audited_state", "GET", "/monitor-audited-state", V, paged=True),
    # -- features ------------------------------------------------------------------------
    # Declaring features is an editor's work, like registering a dataset version.
    _op("features", "apply_changes", "POST", "/feature-changes", E, stamp=("actor",)),
    _op("features", "list_definitions", "GET", "/feature-definitions", V, paged=True),
    _op("features", "get_definition", "GET", "/feature-definitions/{kind}/{name}", V),
    _op(
        "features",
        "list_definition_versions",
        "GET",
        "/feature-definitions/{kind}/{name}/versions",
        V,
        paged=True,
    ),
    _op("features", "audited_state", "GET", "/feature-audited-state", V, paged=True),
    # -- lineage -------------------------------------------------------------------------
    _op("lineage", "add_edges", "POST", "/lineage/edges", E),
    _op("lineage", "upstream", "POST", "/lineage/upstream", V),
    _op("lineage", "downstream", "POST", "/lineage/downstream", V),
    # -- governance ----------------------------------------------------------------------
    # Non-admins may only append the events clients report themselves (see the server).
    _op("governance", "append", "POST", "/audit/events", E, stamp=("entry.actor",), status=201),
    _op("governance", "list_events", "GET", "/audit/events", V),
    _op("governance", "read_events", "GET", "/audit/chain", V),
    _op("governance", "latest_event", "GET", "/audit/latest", V),
    _op("governance", "head", "GET", "/audit/head", V),
    _op("governance", "verify", "GET", "/audit/verify", V),
    _op("governance", "audited_state", "GET", "/audit/audited-state", V, paged=True),
    _op("governance", "list_roles", "GET", "/roles", V, paged=True),
    _op("governance", "grant_role", "POST", "/roles", A, stamp=("actor",), status=201),
    _op("governance", "revoke_role", "DELETE", "/roles/{user}/{role}", A, stamp=("actor",)),
    # -- pipelines -----------------------------------------------------------------------
    _op(
        "pipelines", "create_pipeline_run", "POST", "/pipeline-runs", E, stamp=("user",), status=201
    ),
    _op("pipelines", "list_pipeline_runs", "GET", "/pipeline-runs", V),
    _op("pipelines", "get_pipeline_run", "GET", "/pipeline-runs/{run_id}", V),
    _op("pipelines", "resolve_pipeline_run_id", "GET", "/pipeline-run-ids", V),
    _op("pipelines", "end_pipeline_run", "POST", "/pipeline-runs/{run_id}/end", E),
    _op("pipelines", "get_step_run", "GET", "/step-runs/{step_run_id}", V),
    _op("pipelines", "start_step_run", "POST", "/step-runs/{step_run_id}/start", E),
    _op("pipelines", "finish_step_run", "POST", "/step-runs/{step_run_id}/finish", E),
    _op("pipelines", "find_cached_step_run", "GET", "/step-cache/{cache_key}", V),
)

_BY_KEY = {op.key: op for op in OPERATIONS}


def operation(key: str) -> Operation:
    """The operation for ``domain.method``."""
    return _BY_KEY[key]
