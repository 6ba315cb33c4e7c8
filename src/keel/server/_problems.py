"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error answer carries keel's error ``code`` next to the standard members, so the
REST store raises the same :class:`~keel.errors.KeelError` subclass the server raised,
with the same message. Validation failures list each bad field's path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from keel.errors import KeelError

__all__ = ["PROBLEM_TYPE", "problem", "problem_for", "validation_problem"]

PROBLEM_TYPE = "application/problem+json"
_log = logging.getLogger("keel.server")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    501: "Not implemented",
    503: "Service unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem-details answer.

    Args:
        status: the HTTP status.
        code: keel's error code (``NOT_FOUND``...).
        detail: what went wrong and what to do, for a person.
        errors: per-field problems (``{"loc": "body.name", "msg": ...}``).
        headers: extra headers (``Retry-After``, ``WWW-Authenticate``).
    """
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = list(errors)
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers=dict(headers or {}),
    )


def problem_for(exc: KeelError) -> Response:
    """The answer for a KeelError: its class's status and code, its message."""
    status = exc.http_status
    if status >= 500:
        _log.error("%s: %s", exc.code, exc.message)
    return problem(status, exc.code, exc.message)


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> Response:
    """422 naming every field that failed validation (FastAPI's error list)."""
    fields = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        fields.append({"loc": loc, "msg": str(err.get("msg", "invalid"))})
    first = fields[0] if fields else {"loc": "request", "msg": "invalid"}
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return problem(
        422,
        "INVALID_ARGUMENT",
        f"{first['loc']}: {first['msg']}{more}",
        errors=fields,
    )


async def unhandled(request: Request, exc: Exception) -> Response:
    """A bug or an unexpected failure: logged with its traceback, answered 500 without it."""
    _log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(
        500,
        "INTERNAL_ERROR",
        "the server failed unexpectedly; the error is in the server's log",
    )
