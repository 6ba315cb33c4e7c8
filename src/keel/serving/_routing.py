"""Routing of the serving app: the request and reply it passes around, and a router that
matches method and path template (the template, never the path, labels the metrics).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "REQUEST_ID",
    "Handler",
    "Receive",
    "Reply",
    "Request",
    "Router",
    "Scope",
    "Send",
    "query_flag",
]

#: a request id keel takes from a caller (``X-Request-Id``, an OIP ``id``); others are replaced
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class Request:
    """One HTTP request being answered (what the handlers see)."""

    scope: Scope
    receive: Receive
    params: dict[str, str]
    headers: dict[bytes, bytes]
    request_id: str
    protocol: str
    endpoint: str = ""
    model_version: str = ""


@dataclass(slots=True)
class Reply:
    """A handler's answer: body, status and content type."""

    body: bytes
    status: int = 200
    content_type: bytes = b"application/json"


Handler = Callable[[Request], Awaitable[Reply]]


class Router:
    """Routes by method and path template: ``/v2/models/{model}/infer``."""

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], tuple[str, Handler, str]] = {}
        self._dynamic: list[tuple[str, list[str], str, Handler, str]] = []
        self._paths: set[str] = set()

    def add(self, method: str, template: str, handler: Handler, protocol: str) -> None:
        self._paths.add(template)
        if "{" not in template:
            self._static[(method, template)] = (template, handler, protocol)
        else:
            self._dynamic.append(
                (method, template.strip("/").split("/"), template, handler, protocol)
            )

    def match(self, method: str, path: str) -> tuple[str, Handler | None, dict[str, str], str]:
        """(template, handler or None for 405, params, protocol); template ``other`` if none."""
        hit = self._static.get((method, path))
        if hit is not None:
            return hit[0], hit[1], {}, hit[2]
        parts = path.strip("/").split("/")
        allowed = False
        for m, pattern, template, handler, protocol in self._dynamic:
            if len(pattern) != len(parts):
                continue
            params: dict[str, str] = {}
            for p, v in zip(pattern, parts, strict=True):
                if p[0] == "{":
                    if not v:
                        break
                    params[p[1:-1]] = v
                elif p != v:
                    break
            else:
                if m == method:
                    return template, handler, params, protocol
                allowed = True
        if allowed or any(k[1] == path for k in self._static):
            return path if "{" not in path else "other", None, {}, "plain"
        return "other", None, {}, "oip" if path.startswith("/v2") else "plain"


def query_flag(scope: Scope, name: bytes) -> bool:
    """Whether the query string sets ``name`` to a true value (``?proba=true``)."""
    query: bytes = scope.get("query_string", b"")
    if not query:
        return False
    from urllib.parse import parse_qs

    values = parse_qs(query.decode("latin-1")).get(name.decode(), [])
    return bool(values) and values[-1].lower() in ("1", "true", "yes")
