"""The REST API reference, as Markdown, rendered from the server's own OpenAPI description.

``docs/reference/api.md`` is this module's output; a test renders it again and compares,
so the reference cannot drift from the routes. Regenerate it with::

    python -m keel.server.reference > docs/reference/api.md

The live description is also served by every ``keel server``: ``/openapi.json``, with
interactive documentation at ``/docs``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

__all__ = ["render"]

_INTRO = """# REST API reference

Generated from the OpenAPI description that every `keel server` serves at
`/openapi.json` (interactive at `/docs`); regenerate this page with
`python -m keel.server.reference > docs/reference/api.md` (a test checks it is current).

Every route but `/health`, `/ready` and the API description needs
`Authorization: Bearer <token>`. **Role** is the least role the caller must hold in the
route's project (`viewer` < `editor` < `maintainer` < `admin`; server administrators
hold every role), `authenticated` any valid token, `server admin` a server
administrator. Errors are `application/problem+json` with keel's error `code`; lists
marked *paged* take `limit` (at most 1000) and `cursor` (the previous page's
`next_cursor`). See [the server guide](../guides/server.md) and
[the security model](../concepts/security.md).
"""

_ROLE_NAMES = {"public": "public", "authenticated": "authenticated", "server_admin": "server admin"}


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        return str(ref).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_schema_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "object"))


def _parameters(operation: dict[str, Any]) -> str:
    rows = []
    for p in operation.get("parameters", []):
        rows.append(f"`{p['name']}` ({p['in']}{', required' if p.get('required') else ''})")
    return ", ".join(rows) or "-"


def _body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return _schema_name(content["application/json"].get("schema", {}))
    return "bytes" if content else "-"


def _answer(operation: dict[str, Any]) -> str:
    for status, response in sorted(operation.get("responses", {}).items()):
        if status.startswith("2"):
            content = response.get("content") or {}
            if "application/json" in content:
                schema = content["application/json"].get("schema", {})
                return f"{status}: {_schema_name(schema)}" if schema else str(status)
            return str(status)
    return "-"


def render(openapi: dict[str, Any], roles: dict[tuple[str, str], str]) -> str:
    """The Markdown reference of ``openapi``.

    Args:
        openapi: the server's OpenAPI description.
        roles: (method, path template) -> the role the access table requires.
    """
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag[tag].append((method.upper(), path, operation))
    lines = [_INTRO]
    for tag in sorted(by_tag):
        lines += [
            f"## {tag}",
            "",
            "| method | path | role | parameters | body | answer |",
            "|---|---|---|---|---|---|",
        ]
        for method, path, operation in sorted(by_tag[tag], key=lambda x: (x[1], x[0])):
            role = roles.get((method, path), "public")
            paged = (
                " (paged)"
                if any(p["name"] == "cursor" for p in operation.get("parameters", []))
                else ""
            )
            lines.append(
                f"| {method} | `{path}` | {_ROLE_NAMES.get(role, role)} | {_parameters(operation)} "
                f"| {_body(operation)} | {_answer(operation)}{paged} |"
            )
        lines.append("")
    return "\n".join(lines)


def _main() -> None:
    from keel.config import Settings
    from keel.server import create_app
    from keel.server._access import ROUTE_ROLES

    app = create_app(Settings(home=".keel-reference"))
    print(render(app.openapi(), ROUTE_ROLES), end="")


if __name__ == "__main__":
    _main()
