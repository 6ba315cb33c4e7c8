"""``create_app``: the keel server as one FastAPI application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from keel._version import __version__
from keel.config import Settings, load_settings
from keel.errors import AuthenticationError, KeelError, PayloadTooLargeError, RateLimitedError
from keel.server._access import AccessGuard
from keel.server._access_routes import access_router
from keel.server._artifact_routes import artifact_router
from keel.server._auth import ACCESS_CACHE_SECONDS, FailedLogins
from keel.server._hub import StoreHub
from keel.server._problems import problem, problem_for, unhandled, validation_problem
from keel.server._service_routes import service_router
from keel.server._store_routes import store_router

__all__ = ["ServerOptions", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How the server guards itself.

    Attributes:
        auth: require API tokens (off only on a loopback address: ``keel server`` refuses
            to bind another address without it).
        local_user: the user every request acts as when ``auth`` is off.
        max_body_bytes: the largest JSON request body (413 above).
        max_upload_bytes: the largest artifact upload (413 above).
        login_failures: failed logins allowed per client address per ``login_window``
            seconds before it is answered 429.
        login_window: that window, in seconds.
        access_cache_seconds: how long a worker reuses a token check or a role it
            looked up; a revocation or role change made through another worker (or
            where the database is) reaches this one within that time (0: at once,
            at the cost of two database reads per request).
    """

    auth: bool = True
    local_user: str = "local"
    max_body_bytes: int = 32 * 1024**2
    max_upload_bytes: int = 50 * 1024**3
    login_failures: int = 10
    login_window: float = 60.0
    access_cache_seconds: float = ACCESS_CACHE_SECONDS


class _BodyLimit:
    """Refuses request bodies above a size, counted as they arrive (413).

    A declared ``Content-Length`` above the limit is refused before the body is read;
    a chunked body is cut off once it passes it. Artifact uploads have their own,
    larger limit, enforced where they are streamed to disk.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "/artifacts/" in scope.get("path", ""):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
        received = 0
        refused = False

        async def counted() -> Message:
            # Past the limit, the 413 is sent from here and the app is told the client
            # left: whatever it was doing with the body stops, and its answer is dropped.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    await _too_large(self.limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded)


def _too_large_text(limit: int) -> str:
    return (
        f"the request body is larger than this server accepts ({limit} bytes); send less per "
        "request (artifacts go through the artifact upload route)"
    )


def _too_large(limit: int) -> Response:
    return problem(413, PayloadTooLargeError.code, _too_large_text(limit))


def _keel_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KeelError)
    response = problem_for(exc)
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, AuthenticationError):
        response.headers["WWW-Authenticate"] = 'Bearer realm="keel"'
    return response


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(exc.errors())


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return problem(404, "NOT_FOUND", f"no route {request.url.path!r}; see /docs for the API")
    if exc.status_code == 405:
        return problem(
            405,
            "METHOD_NOT_ALLOWED",
            f"{request.method} is not allowed on {request.url.path!r}",
            headers=exc.headers,  # Allow: the methods that are
        )
    return problem(exc.status_code, "HTTP_ERROR", str(exc.detail), headers=exc.headers)


def _openapi_floats(schema: Any) -> None:
    """Numbers may also be the strings NaN, Infinity and -Infinity (how metrics travel)."""
    if isinstance(schema, dict):
        if schema.get("type") == "number":
            fmt = {
                k: schema.pop(k)
                for k in list(schema)
                if k not in ("title", "description", "default")
            }
            schema["anyOf"] = [fmt, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]
            return
        for value in schema.values():
            _openapi_floats(value)
    elif isinstance(schema, list):
        for value in schema:
            _openapi_floats(value)


_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details, with keel's error code",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "keel's error code (NOT_FOUND, ...)"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}},
            },
        },
    },
    "required": ["status", "detail", "code"],
}


def _openapi_problems(schema: dict[str, Any]) -> None:
    """Every operation may answer an error as problem details (FastAPI documents only 422)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = _PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    error = {
        "description": "An error: RFC 9457 problem details with keel's error code",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["default"] = error


def create_app(settings: Settings | None = None, options: ServerOptions | None = None) -> FastAPI:
    """The keel server: the Store, artifacts and governed services over HTTP.

    The metadata store and the artifact store named by ``settings`` are opened when the
    app starts (its lifespan) and closed when it stops.

    Args:
        settings: where the server keeps things (default: the environment, keel.toml).
        options: authentication and limits.

    Example::

        >>> import uvicorn
        >>> uvicorn.run(create_app(), host="127.0.0.1", port=8080)
    """
    settings = settings or load_settings()
    options = options or ServerOptions()
    hub = StoreHub(settings, options.access_cache_seconds)
    guard = AccessGuard(
        hub,
        auth=options.auth,
        local_user=options.local_user,
        failed_logins=FailedLogins(options.login_failures, options.login_window),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.open()
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(
        title="keel",
        version=__version__,
        summary="A self-hosted machine-learning platform: the REST API of keel server.",
        lifespan=lifespan,
        dependencies=[Depends(guard)],
    )
    app.state.hub = hub
    app.state.guard = guard
    app.add_exception_handler(KeelError, _keel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, unhandled)
    app.add_middleware(_BodyLimit, limit=options.max_body_bytes)

    @app.get("/health", tags=["server"], name="server.health")
    def health() -> JSONResponse:
        """The process answers."""
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/ready", tags=["server"], name="server.ready")
    def ready() -> Response:
        """The metadata store answers (503 otherwise)."""
        try:
            hub.access.get_project("default")
        except KeelError as exc:
            return problem(503, "STORE_UNAVAILABLE", f"not ready: {exc.message}")
        return JSONResponse({"status": "ready"})

    app.include_router(access_router())
    app.include_router(store_router())
    upload_dir = settings.home.absolute() / "tmp" / "uploads"
    app.include_router(artifact_router(upload_dir, options.max_upload_bytes))
    app.include_router(service_router())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _openapi_floats(schema)
            _openapi_problems(schema)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
            for path in ("/health", "/ready"):  # public: no token needed
                for operation in schema["paths"].get(path, {}).values():
                    operation["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
