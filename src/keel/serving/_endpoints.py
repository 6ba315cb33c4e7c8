"""Stored endpoints: create, change, read and delete the Endpoint noun of a project.

An endpoint's spec (:class:`EndpointSpec`) is checked here, each target and the shadow
is resolved through the registry (the reference must name a version that exists and is
not archived, with an input signature), and the store writes the new revision, its
audit event and the lineage edges model version -> endpoint in one transaction. Servers
started with ``keel serve NAME`` read the stored spec and follow its revisions.

Example::

    >>> from keel.serving import endpoints
    >>> endpoints.create({"name": "iris", "targets": [{"model": "iris@champion"}]})
    >>> endpoints.update("iris", {"targets": [{"model": "iris@champion", "weight": 90},
    ...                                       {"model": "iris@challenger", "weight": 10}]})
    >>> endpoints.get("iris").revision
    2
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError
from keel.serving._spec import EndpointSpec, load_endpoint_specs, spec_from_mapping

if TYPE_CHECKING:
    import datetime as dt

    from keel.context import Context
    from keel.store import Endpoint, EndpointRevision

__all__ = [
    "create_endpoint",
    "delete_endpoint",
    "endpoint_history",
    "endpoint_log",
    "endpoint_spec",
    "get_endpoint",
    "list_endpoints",
    "merge_changes",
    "update_endpoint",
]

#: what a spec (or a change to one) may be given as
SpecSource = EndpointSpec | Mapping[str, Any] | str | Path


def _ctx(context: Context | None) -> Context:
    if context is not None:
        return context
    from keel.context import current_context

    return current_context()


def _one_spec(source: SpecSource, name: str | None = None) -> EndpointSpec:
    """One validated spec from a spec, a mapping or a YAML file (``name`` fills a missing one)."""
    if isinstance(source, EndpointSpec):
        spec = source
    elif isinstance(source, Mapping):
        data = dict(source)
        if name is not None:
            data.setdefault("name", name)
        spec = spec_from_mapping(data, "endpoint spec")
    else:
        path = Path(source)
        specs = load_endpoint_specs(path, default_name=name)
        if len(specs) != 1:
            raise InvalidArgumentError(
                f"{path} holds {len(specs)} endpoints; give one endpoint per file here"
            )
        spec = specs[0]
    if name is not None and spec.name != name:
        raise InvalidArgumentError(
            f"the spec names endpoint {spec.name!r}, not {name!r}; use one name for both"
        )
    return spec


def _stored(spec: EndpointSpec) -> dict[str, Any]:
    """The spec as the store keeps it: every setting explicit (defaults included), no name."""
    return spec.model_dump(mode="json", exclude={"name"})


def _resolve(spec: EndpointSpec, context: Context) -> list[str]:
    """The versions the targets and the shadow name now, each checked to be servable.

    Raises:
        NotFoundError: a model, version or alias does not exist.
        ModelStateError: a pinned version is archived.
        InvalidArgumentError: a version has no input signature to check requests against.
    """
    from keel.registry import get_version
    from keel.store import ModelStateError, ModelVersionStatus

    refs = [t.model for t in spec.targets] + ([spec.shadow.model] if spec.shadow else [])
    versions = []
    for ref in refs:
        version = get_version(ref, context=context)
        if version.status is not ModelVersionStatus.READY:
            raise ModelStateError(
                f"endpoint {spec.name!r}: {ref} is archived and cannot be served; name another "
                f"version (keel models versions {version.name})"
            )
        if not (version.signature or {}).get("inputs"):
            raise InvalidArgumentError(
                f"endpoint {spec.name!r}: model {version.uri} has no input signature, so its "
                "requests cannot be checked; log it again with input_example=..."
            )
        versions.append(version.uri)
    return versions


def create_endpoint(
    spec: SpecSource, *, reason: str | None = None, context: Context | None = None
) -> Endpoint:
    """Store a new endpoint (revision 1, or one more than a deleted one of that name had).

    Args:
        spec: an :class:`EndpointSpec`, its mapping (``{"name": ..., "targets": [...]}``)
            or the path of a YAML file with one endpoint.
        reason: why, recorded with the audit event.
        context: the project and store (:func:`keel.context.current_context` by default).

    Returns:
        The stored :class:`keel.store.Endpoint`.

    Raises:
        InvalidArgumentError: the spec is invalid (names the key).
        NotFoundError: a target's model, version or alias does not exist, or the
            feature service is not registered (``FeatureNotFoundError``).
        ModelStateError: a target's version is archived.
        ConflictError: an endpoint of that name exists.
        PermissionDeniedError: on a keel server, the user is not a maintainer.

    Example::

        >>> keel.serving.endpoints.create("endpoint.yaml", reason="launch")
    """
    ctx = _ctx(context)
    checked = _one_spec(spec)
    versions = _resolve(checked, ctx)
    service = _feature_service(checked, ctx)
    made = ctx.store.endpoints.create_endpoint(
        checked.name, _stored(checked), versions, ctx.actor, reason
    )
    _link_features(service, made.name, ctx)
    return made


def _feature_service(spec: EndpointSpec, context: Context) -> Any:
    """The registered version of the spec's feature service (``None`` when it names none).

    Raises:
        FeatureNotFoundError: the service is not registered (lists those that are).
    """
    if spec.feature_service is None:
        return None
    from keel.features import get_service

    return get_service(spec.feature_service, context=context)[1]


def _link_features(service: Any, endpoint: str, context: Context) -> None:
    """The lineage edge feature service version -[features_for]-> endpoint."""
    if service is None:
        return
    from keel.store import LineageEdge, LineageNode

    context.store.lineage.add_edges(
        [
            LineageEdge(
                service.lineage_node(), LineageNode("endpoint", endpoint, endpoint), "features_for"
            )
        ]
    )


def merge_changes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with ``changes`` laid over it: mappings merged key by key, the rest replaced.

    Example::

        >>> merge_changes({"limits": {"max_rows": 10, "timeout_s": 5}}, {"limits": {"max_rows": 99}})
        {'limits': {'max_rows': 99, 'timeout_s': 5}}
    """
    out = dict(current)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_changes(out[key], value)
        else:
            out[key] = value
    return out


def update_endpoint(
    name: str,
    changes: SpecSource,
    *,
    replace: bool | None = None,
    expected_revision: int | None = None,
    reason: str | None = None,
    context: Context | None = None,
) -> Endpoint:
    """Change a stored endpoint; servers following it switch within their poll interval.

    Args:
        name: the endpoint.
        changes: a mapping laid over the stored spec (``{"log_sample_rate": 0.1}``,
            ``{"batching": {"max_wait_ms": 5}}``: nested settings merge, lists such as
            ``targets`` are replaced), or a whole new spec (an :class:`EndpointSpec` or
            a YAML file).
        replace: treat a mapping as a whole spec (unset keys take their defaults). A
            spec or a file always replaces.
        expected_revision: the revision the change was prepared against (the current
            one by default); another change in between is a ``ConflictError``.
        reason: why, recorded with the audit event.
        context: the project and store.

    Returns:
        The endpoint after the change; unchanged (no new revision) when the spec is
        the same as the stored one.

    Raises:
        NotFoundError: no such endpoint.
        ConflictError: it changed since ``expected_revision``.
        InvalidArgumentError: the resulting spec is invalid (names the key).

    Example::

        >>> keel.serving.endpoints.update("iris", {"log_sample_rate": 0.1}, reason="volume")
    """
    ctx = _ctx(context)
    current = ctx.store.endpoints.get_endpoint(name)
    whole = replace or isinstance(changes, EndpointSpec | str | Path)
    if whole:
        spec = _one_spec(changes, name)
    else:
        if not isinstance(changes, Mapping):
            raise InvalidArgumentError(
                f"changes to endpoint {name!r} must be a mapping, a spec or a YAML file"
            )
        if "name" in changes and changes["name"] != name:
            raise InvalidArgumentError(
                f"endpoints cannot be renamed ({name!r} -> {str(changes['name'])[:80]!r}); "
                "create the new one and delete the old one"
            )
        spec = spec_from_mapping(
            {"name": name, **merge_changes(current.spec, changes)},
            f"endpoint {name!r} after the change",
        )
    stored = _stored(spec)
    if stored == dict(current.spec):
        return current
    versions = _resolve(spec, ctx)
    service = _feature_service(spec, ctx)
    revision = current.revision if expected_revision is None else expected_revision
    changed = ctx.store.endpoints.update_endpoint(
        name, stored, versions, revision, ctx.actor, reason
    )
    _link_features(service, name, ctx)
    return changed


def delete_endpoint(
    name: str,
    *,
    expected_revision: int | None = None,
    reason: str | None = None,
    context: Context | None = None,
) -> None:
    """Delete a stored endpoint (its history stays; servers keep serving their last revision).

    Raises:
        NotFoundError: no such endpoint.
        ConflictError: it changed since ``expected_revision``.
    """
    ctx = _ctx(context)
    revision = expected_revision
    if revision is None:
        revision = ctx.store.endpoints.get_endpoint(name).revision
    ctx.store.endpoints.delete_endpoint(name, revision, ctx.actor, reason)


def get_endpoint(name: str, *, context: Context | None = None) -> Endpoint:
    """The stored endpoint ``name`` (``NotFoundError`` lists those that exist)."""
    return _ctx(context).store.endpoints.get_endpoint(name)


def list_endpoints(*, context: Context | None = None) -> builtins.list[Endpoint]:
    """Every stored endpoint of the project, by name."""
    return _ctx(context).store.endpoints.list_endpoints()


def endpoint_history(
    name: str, *, context: Context | None = None
) -> builtins.list[EndpointRevision]:
    """Every change of an endpoint, oldest first (deleted endpoints too)."""
    return _ctx(context).store.endpoints.list_revisions(name)


def endpoint_spec(endpoint: Endpoint | str, *, context: Context | None = None) -> EndpointSpec:
    """The :class:`EndpointSpec` of a stored endpoint (given, or read by name).

    Raises:
        InvalidArgumentError: the stored spec is not valid for this version of keel
            (it names the key).
    """
    stored = get_endpoint(endpoint, context=context) if isinstance(endpoint, str) else endpoint
    return spec_from_mapping(
        {**stored.spec, "name": stored.name},
        f"stored endpoint {stored.name!r} (revision {stored.revision})",
    )


def endpoint_log(
    name: str,
    *,
    since: str | int | dt.datetime | dt.timedelta | None = None,
    context: Context | None = None,
) -> Any:
    """The prediction log of an endpoint (a DataFrame, oldest first): what
    ``keel endpoints log NAME --since 1h`` shows. See :func:`read_prediction_log`."""
    from keel.serving._predlog import read_prediction_log

    return read_prediction_log(name, since=since, context=context)
