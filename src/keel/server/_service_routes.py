"""Governed services the server runs itself, for clients of a REST store.

A promotion's gate must be judged by the server: a verdict reached by the client could
be forged. So ``keel.models.promote``, ``rollback`` and alias deletion, called against a
REST store, send their arguments here, and the server runs the very same service code
on its own store, as the authenticated user, in the project of the route.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
from fastapi import APIRouter, Request
from starlette.responses import Response

from keel.server._context import RequestState, request_state
from keel.store import from_wire, to_wire

__all__ = ["service_router"]

_P = "/api/v1/projects/{project}/services"


class PromoteRequest(pydantic.BaseModel):
    """A promotion: the candidate, the alias, the policy (in wire form) and, to force, why."""

    model_config = pydantic.ConfigDict(extra="forbid")
    model: str = pydantic.Field(description="a model name, or a reference such as iris/3")
    version: int | None = None
    to: str = "champion"
    policy: dict[str, Any] | None = pydantic.Field(
        None, description="the policy, as keel.gates.Policy in wire form (None: no checks)"
    )
    force: bool = False
    reason: str | None = None


class AliasRequest(pydantic.BaseModel):
    """An alias (``iris@champion``) and why it is changed."""

    model_config = pydantic.ConfigDict(extra="forbid")
    reference: str
    reason: str | None = None


def _json(value: Any) -> Response:
    return Response(json.dumps(to_wire(value), ensure_ascii=False), media_type="application/json")


def server_context(state: RequestState) -> Any:
    """A service context on the server's store, acting as the authenticated user."""
    from keel.context import Context

    return Context(
        settings=state.hub.settings,
        store=state.store,
        artifacts=state.artifacts,
        project=state.project,
        actor=state.principal.user,
    )


def service_router() -> APIRouter:
    """Promotion, rollback and alias deletion, run on the server."""
    router = APIRouter(prefix=_P, tags=["services"])

    @router.get("/whoami", name="services.whoami")
    def whoami(request: Request) -> Response:
        """The authenticated user and their role in the project."""
        state = request_state(request)
        return _json(
            {
                "user": state.principal.user,
                "admin": state.principal.admin,
                "project": state.project,
                "role": state.role,
            }
        )

    @router.post("/promote", name="services.promote")
    def promote(request: Request, body: PromoteRequest) -> Response:
        """Evaluate the policy here and move the alias if it passes (or is forced by an admin)."""
        from keel.gates import Policy, promote

        state = request_state(request)
        policy = None if body.policy is None else from_wire(Policy, body.policy, "policy")
        outcome = promote(
            body.model,
            body.version,
            body.to,
            policy,
            force=body.force,
            reason=body.reason,
            context=server_context(state),
        )
        return _json(outcome)

    @router.post("/rollback", name="services.rollback")
    def rollback(request: Request, body: AliasRequest) -> Response:
        """Move the alias back to its previous holder."""
        from keel.gates import rollback

        state = request_state(request)
        return _json(rollback(body.reference, reason=body.reason, context=server_context(state)))

    @router.post("/delete-alias", name="services.delete_alias")
    def delete_alias(request: Request, body: AliasRequest) -> Response:
        """Delete the alias (project admins)."""
        from keel.gates import delete_alias

        state = request_state(request)
        delete_alias(body.reference, reason=body.reason, context=server_context(state))
        return _json({"deleted": body.reference})

    return router
