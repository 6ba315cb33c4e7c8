"""The Store's operations as routes, built from the one table the REST store also uses.

For each :class:`~keel.store.rest._operations.Operation` this module makes a FastAPI
route whose parameters come from the domain method's type hints: path parameters by
name, query parameters for ``GET``/``DELETE``, one JSON object validated by a pydantic
model for ``POST``/``PUT``. So the OpenAPI description, the validation of every request
and the REST store's calls all follow from the interface itself.

Before calling the store a route:

* sets the parameters the operation stamps (``actor``, ``user``, ``new.created_by``,
  ``entry.actor``) to the authenticated user;
* refuses a record that points at content-addressed bytes stored for another project
  (a client must upload bytes, proving it has them, before it can reference them);
* bounds every size a client chooses (``limit``, ``max_results``, ``max_depth``);
* lets non-admins append only the audit events clients report themselves.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from keel import _json
from keel.errors import InvalidArgumentError
from keel.server._context import RequestState, request_state
from keel.server._paging import MAX_PAGE_SIZE, page_from
from keel.store import to_wire
from keel.store.rest import OPERATIONS, ROLE_ORDER, Operation, Parameter, signature_of

__all__ = ["CLIENT_REPORTED_ACTIONS", "PARAMETER_BOUNDS", "store_router"]

#: audit actions a non-admin may append: facts only the client can know
CLIENT_REPORTED_ACTIONS = frozenset({"model_version.load_pickle", "step_output.load_pickle"})

#: the largest value a client may give for these parameters
PARAMETER_BOUNDS: dict[str, int] = {
    "limit": 100_000,
    "max_results": 50_000,
    "max_depth": 200,
}

_JSON = "application/json"

#: operations that change who may do what: the server's cached roles are dropped
_ACCESS_CHANGES = frozenset({"governance.grant_role", "governance.revoke_role"})


def _sha256s(op_key: str, args: Mapping[str, Any]) -> list[str]:
    """The content hashes a write would make the project refer to."""
    if op_key == "tracking.record_artifact":
        return [args["record"].sha256]
    if op_key == "datasets.create_version":
        return [args["new"].content_hash]
    if op_key == "registry.create_version":
        return [f.sha256 for f in args["draft"].files]
    if op_key == "pipelines.finish_step_run":
        return [
            o.ref
            for o in args.get("outputs", ())
            if getattr(o, "kind", "") not in ("none", "dataset")
        ]
    return []


def _stamp(op: Operation, args: dict[str, Any], user: str) -> None:
    for target in op.stamp:
        name, _, field = target.partition(".")
        if not field:
            args[name] = user
        elif args.get(name) is not None:
            args[name] = dataclasses.replace(args[name], **{field: user})


def _check_bounds(args: Mapping[str, Any]) -> None:
    for name, bound in PARAMETER_BOUNDS.items():
        value = args.get(name)
        if isinstance(value, int) and not 0 <= value <= bound:
            raise InvalidArgumentError(f"{name} must be between 0 and {bound}, got {value}")


def _check_append(state: RequestState, args: Mapping[str, Any]) -> None:
    action = args["entry"].action
    if state.role != "admin" and action not in CLIENT_REPORTED_ACTIONS:
        from keel.errors import error_for_code

        raise error_for_code("PERMISSION_DENIED")(
            f"appending audit event {action!r} needs the admin role in project "
            f"{state.project!r}; {state.principal.user!r} holds {state.role!r}. Events are "
            "written by the server with the change they record; clients may only report "
            f"{', '.join(sorted(CLIENT_REPORTED_ACTIONS))}"
        )


def _json_response(value: Any, status: int) -> Response:
    return Response(_json.encode(to_wire(value)), status_code=status, media_type=_JSON)


def _run(op: Operation, state: RequestState, args: dict[str, Any]) -> Any:
    _stamp(op, args, state.principal.user)
    _check_bounds(args)
    if op.key == "governance.append":
        _check_append(state, args)
    # Bytes stored here but not held by this project: referencing them would let the
    # project read another project's data. (Bytes not stored at all leak nothing.)
    foreign = [
        sha
        for sha in _sha256s(op.key, args)
        if not state.project_has_object(sha) and state.artifacts.exists(sha)
    ]
    if foreign:
        raise InvalidArgumentError(
            f"content {foreign[0][:12]}... is not held by project {state.project!r}; upload "
            "the bytes to this project first (PUT .../artifacts/SHA256), then record them"
        )
    domain = getattr(state.store, op.domain)
    result = getattr(domain, op.method)(**args)
    if op.key in _ACCESS_CHANGES:
        state.hub.access_changed()
    return result


def _endpoint(op: Operation) -> Callable[..., Any]:
    signature = signature_of(op)
    stamped = {s for s in op.stamp if "." not in s}
    in_path = set(op.path_params)
    params: list[inspect.Parameter] = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter(
            "project",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[str, Path(description="the project")],
        ),
    ]
    body_fields: dict[str, Any] = {}
    query_names: list[str] = []
    for p in signature.parameters:
        if p.name in stamped:
            continue
        if p.name in in_path:
            params.append(_path_param(p))
        elif op.verb in ("GET", "DELETE"):
            params.append(_query_param(p))
            query_names.append(p.name)
        else:
            body_fields[p.name] = (p.annotation, ... if p.required else p.default)
    body_model: type[pydantic.BaseModel] | None = None
    if body_fields:
        body_model = pydantic.create_model(
            f"{_camel(op.domain)}{_camel(op.method)}Request",
            __config__=pydantic.ConfigDict(extra="forbid"),
            **body_fields,
        )
        params.append(
            inspect.Parameter(
                "body",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[body_model, Body()],
            )
        )
    if op.paged:
        params.append(_kw("cursor", str | None, None, "the next_cursor of the previous page"))
        params.append(
            inspect.Parameter(
                "limit",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")
                ],
                default=None,
            )
        )

    def endpoint(request: Request, **kwargs: Any) -> Response:
        state = request_state(request)
        args = {p.name: kwargs[p.name] for p in signature.parameters if p.name in kwargs}
        body = kwargs.get("body")
        if body is not None:
            args.update({name: getattr(body, name) for name in body_fields})
        cursor, limit = kwargs.get("cursor"), kwargs.get("limit")
        if op.paged:
            query = {"op": op.key, **{k: to_wire(v) for k, v in args.items() if k not in stamped}}
            items, next_cursor = page_from(
                lambda: _run(op, state, args),
                query,
                cursor,
                limit,
                state.hub.snapshots,
                state.project or "",
            )
            return _json_response({"items": list(items), "next_cursor": next_cursor}, op.status)
        result = _run(op, state, args)
        if result is None and signature.returns in (None, type(None)):
            return Response(status_code=204)
        return _json_response(result, op.status)

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = f"{op.domain}_{op.method}"
    endpoint.__doc__ = _doc(op)
    return endpoint


def _kw(name: str, annotation: Any, default: Any, description: str) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[annotation, Query(description=description)],
        default=default,
    )


def _path_param(p: Parameter) -> inspect.Parameter:
    return inspect.Parameter(
        p.name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[p.annotation, Path()]
    )


def _query_param(p: Parameter) -> inspect.Parameter:
    default = inspect.Parameter.empty if p.required else p.default
    bound = PARAMETER_BOUNDS.get(p.name)
    query = Query() if bound is None else Query(ge=0, le=bound)
    return inspect.Parameter(
        p.name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[p.annotation, query],
        default=default,
    )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _doc(op: Operation) -> str:
    from keel.store.rest import interface_of

    method = getattr(interface_of(op.domain), op.method)
    summary = (inspect.getdoc(method) or "").strip()
    return f"{summary}\n\nNeeds the **{op.role}** role in the project."


def _response_model(op: Operation) -> Any:
    returns = signature_of(op).returns
    if returns in (None, type(None)):
        return None
    if op.paged:
        item = returns.__args__[0] if getattr(returns, "__args__", None) else Any
        return pydantic.create_model(
            f"{_camel(op.domain)}{_camel(op.method)}Page",
            items=(list[item], ...),  # type: ignore[valid-type]
            next_cursor=(str | None, None),
        )
    return returns


def store_router() -> APIRouter:
    """Every Store operation, under ``/api/v1/projects/{project}``."""
    router = APIRouter(prefix="/api/v1/projects/{project}")
    for op in OPERATIONS:
        assert op.role in ROLE_ORDER
        returns = signature_of(op).returns
        router.add_api_route(
            op.path,
            _endpoint(op),
            methods=[op.verb],
            status_code=204 if returns in (None, type(None)) else op.status,
            response_model=_response_model(op),
            tags=[op.domain],
            name=op.key,
            summary=op.method.replace("_", " "),
            response_class=Response,
        )
    return router


def store_route_roles() -> dict[tuple[str, str], str]:
    """(verb, path template) -> the least project role, for the access table."""
    return {(op.verb, f"/api/v1/projects/{{project}}{op.path}"): op.role for op in OPERATIONS}
