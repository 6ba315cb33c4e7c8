"""The serving app: one ASGI application for every endpoint, protocol and route.

A plain ASGI app rather than FastAPI: the hot path (read the body, parse it with orjson,
build a typed array, queue it, answer) runs no framework code, no pydantic model and
no dependency injection; measured here it answers ~2x the requests of the same work
behind FastAPI (docs/decisions.md, 301). Routes are matched by template, and the
template, not the path, labels the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from keel.serving._errors import RequestError
from keel.serving._features import EndpointFeatures, FeatureInputs
from keel.serving._follow import Follower, StoredState
from keel.serving._metrics import BatchMetrics, ServingMetrics
from keel.serving._models import ServedModel, load_served_model
from keel.serving._predlog import FeedbackRecord, LogRecord, PredictionLog, log_root
from keel.serving._protocols import (
    error_body,
    oip_metadata,
    oip_response,
    oip_wanted_outputs,
    parse_feedback,
    parse_json,
    parse_tabular,
    plain_response,
)
from keel.serving._routing import (
    REQUEST_ID,
    Receive,
    Reply,
    Request,
    Router,
    Scope,
    Send,
    query_flag,
)
from keel.serving._spec import EndpointSpec
from keel.serving._traffic import ServedEndpoint, Target, mirror

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["ServingApp"]

logger = logging.getLogger("keel.serving")

_MAX_EXPLAIN_ROWS = 100
_RECENT_IDS = 200_000


class ServingApp:
    """The ASGI app serving a set of endpoints (build it with :func:`create_app`).

    Models are loaded at start-up (the ASGI lifespan, or the first request when the
    server sends no lifespan events), so constructing the app does no I/O; so are the
    specs of stored endpoints (given by name).

    Attributes:
        specs: the endpoint specs served (a stored endpoint's, once started).
        endpoints: name -> :class:`ServedEndpoint`, once started.
        stored: name -> :class:`StoredState` of each stored endpoint served.
        context: the store, artifact root and project served from.
        metrics: the app's Prometheus metrics.
        log: the prediction log (``None`` when logging is off).
        switches: the recent switches (alias moves, new revisions), newest last.
        background: shadow requests and retiring models still running.
    """

    def __init__(
        self,
        specs: Sequence[EndpointSpec | str],
        *,
        context: Context | None = None,
        runtime: str = "auto",
        prediction_log: bool = True,
        log_folder: str | None = None,
        watch: bool = True,
        model_loader: Callable[..., ServedModel] | None = None,
    ) -> None:
        self.specs: list[EndpointSpec] = [s for s in specs if isinstance(s, EndpointSpec)]
        self._stored_names = [s for s in specs if isinstance(s, str)]
        self.stored: dict[str, StoredState] = {}
        if context is None:
            from keel.context import current_context

            context = current_context()  # the one current where the app is built (no I/O)
        self.context = context
        self._runtime = runtime
        self._log_enabled = prediction_log
        self._log_folder = log_folder
        self._watch = watch
        self._loader = model_loader or load_served_model
        self.endpoints: dict[str, ServedEndpoint] = {}
        self.metrics = ServingMetrics()
        self.log: PredictionLog | None = None
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._follower = Follower(self)
        self.background: set[asyncio.Task[Any]] = set()
        self._recent: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._counters: dict[tuple[str, str, str, str], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}
        self._router = self._routes()
        self.switches: list[dict[str, Any]] = []
        self.features: dict[str, EndpointFeatures] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def startup(self) -> None:
        """Load and warm every model, start batchers, the log writer and the alias watcher."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            folder = self._log_folder
            if folder is None:
                folder = await asyncio.to_thread(log_root, self.context)
            if self._log_enabled:
                self.log = PredictionLog(
                    folder,
                    on_drop=lambda ep: self.metrics.log_dropped.labels(ep).inc(),
                    on_written=lambda ep, n: self.metrics.log_written.labels(ep).inc(n),
                )
                self.log.start()
            self._log_folder = folder
            await self._read_stored()
            for spec in self.specs:
                endpoint = await self._follower.build(spec)
                self.endpoints[spec.name] = endpoint
                revision = self.stored.get(spec.name)
                logger.info(
                    "endpoint %s%s serves %s",
                    spec.name,
                    f" (revision {revision.revision})" if revision else "",
                    ", ".join(
                        f"{t.ref} -> {t.model.uri} ({t.model.runtime.kind})"
                        for t in endpoint.every_target()
                    ),
                )
            for spec in self.specs:
                if spec.feature_service is not None:
                    await self._open_features(spec)
            if self._watch and self._follower.needed():
                self._watcher = asyncio.get_running_loop().create_task(self._follower.run())
            self._started = True

    async def _read_stored(self) -> None:
        """The specs of the stored endpoints named (``keel serve NAME``), from the store."""
        from keel.serving._endpoints import endpoint_spec, get_endpoint

        for name in self._stored_names:
            if name in self.stored:
                continue
            stored = await asyncio.to_thread(get_endpoint, name, context=self.context)
            spec = endpoint_spec(stored)
            if any(s.name == name for s in self.specs):
                from keel.errors import InvalidArgumentError

                raise InvalidArgumentError(
                    f"endpoint {name!r} is named twice; serve each endpoint once"
                )
            self.specs.append(spec)
            self.stored[name] = StoredState(stored.revision)

    def replace_spec(self, spec: EndpointSpec) -> None:
        """Record the spec now served under its name (a stored endpoint's new revision)."""
        self.specs = [spec if s.name == spec.name else s for s in self.specs]

    async def load_model(self, ref: str, spec: EndpointSpec, version: Any = None) -> ServedModel:
        """Resolve, verify, load and warm one model (in a thread: the loop keeps answering)."""
        return await asyncio.to_thread(
            self._loader, ref, spec, context=self.context, runtime=self._runtime, version=version
        )

    def start_model(self, endpoint: str, model: ServedModel) -> None:
        """Start a loaded model's batcher (in the loop) and count it as served."""
        model.start(endpoint, BatchMetrics(self.metrics, endpoint, model.uri))
        self.metrics.model_info.labels(endpoint, model.uri, model.runtime.kind).set(1)

    async def _open_features(self, spec: EndpointSpec) -> EndpointFeatures:
        """The endpoint's feature lookup, prepared (again, if its service changed)."""
        assert spec.feature_service is not None
        found = self.features.get(spec.name)
        if found is not None and found.service == spec.feature_service:
            return found
        lookup = EndpointFeatures(spec.feature_service, self.context)
        await asyncio.to_thread(lookup.open)
        self.features[spec.name] = lookup
        if found is not None:
            await asyncio.to_thread(found.close)
        return lookup

    async def shutdown(self) -> None:
        """Stop following aliases, answer what is queued, finish shadows, flush the log."""
        if not self._started:
            return
        for lookup in self.features.values():
            await asyncio.to_thread(lookup.close)
        self.features = {}
        if self._watcher is not None:
            self._watcher.cancel()
        if self.background:
            await asyncio.wait(list(self.background), timeout=5.0)
            for task in list(self.background):
                task.cancel()
            await asyncio.sleep(0)
        for endpoint in self.endpoints.values():
            for target in endpoint.every_target():
                if target.model.batcher is not None:
                    await target.model.batcher.close()
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.error("keel serve could not start: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- HTTP ------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if not self._started:
            await self.startup()
        template, handler, params, protocol = self._router.match(scope["method"], scope["path"])
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id")
        request_id = (
            given.decode("latin-1")
            if given and REQUEST_ID.match(given.decode("latin-1"))
            else uuid.uuid4().hex
        )
        request = Request(scope, receive, params, headers, request_id, protocol)
        extra: tuple[tuple[bytes, bytes], ...] = ()
        try:
            if handler is None:
                raise self._no_route(scope["method"], scope["path"], template)
            reply = await handler(request)
        except RequestError as exc:
            body, ctype = error_body(request.protocol, exc, request.request_id)
            reply = Reply(body, exc.status, ctype)
            extra = exc.headers
        except TimeoutError:
            timeout = RequestError(
                504,
                "the model did not answer in time; the endpoint's limits.timeout_s was reached",
                code="TIMEOUT",
            )
            body, ctype = error_body(request.protocol, timeout, request.request_id)
            reply = Reply(body, 504, ctype)
        except Exception as exc:  # a model failure: named, never a crash of the worker
            logger.exception("request %s failed", request.request_id)
            err = RequestError(
                500,
                f"internal error while answering ({type(exc).__name__}); request id {request.request_id}",
                code="INTERNAL_ERROR",
            )
            body, ctype = error_body(request.protocol, err, request.request_id)
            reply = Reply(body, 500, ctype)
        response_headers = [
            (b"content-type", reply.content_type),
            (b"content-length", str(len(reply.body)).encode()),
            (b"x-request-id", request.request_id.encode()),
            *extra,
        ]
        if request.model_version:
            response_headers.append((b"x-model-version", request.model_version.encode()))
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": reply.body})
        self._observe(request.endpoint, template, request.model_version, reply.status, started)

    def _observe(
        self, endpoint: str, route: str, version: str, status: int, started: float
    ) -> None:
        key = (endpoint, route, version, f"{status // 100}xx")
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.requests.labels(*key)
        counter.inc()
        lkey = (endpoint, route)
        hist = self._latency.get(lkey)
        if hist is None:
            hist = self._latency[lkey] = self.metrics.latency.labels(*lkey)
        hist.observe(time.perf_counter() - started)

    def _no_route(self, method: str, path: str, template: str) -> RequestError:
        if template != "other":
            return RequestError(
                405, f"{method} is not allowed on {path[:100]}", code="METHOD_NOT_ALLOWED"
            )
        return RequestError(
            404,
            f"no route {method} {path[:100]}; routes: POST /v1/endpoints/{{name}}/predict, "
            "POST /invocations, /v2/models/{name}/infer (see docs/guides/serving.md)",
            code="NOT_FOUND",
        )

    async def _body(self, request: Request, limit: int) -> bytes:
        length = request.headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise RequestError(
                413,
                f"the body is {int(length)} bytes; this endpoint takes at most {limit} "
                "(limits.max_body_bytes)",
                field="body",
                code="BODY_TOO_LARGE",
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise RequestError(499, "the client went away", code="CLIENT_CLOSED")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(
                    413,
                    f"the body is larger than {limit} bytes (limits.max_body_bytes)",
                    field="body",
                    code="BODY_TOO_LARGE",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if len(chunks) != 1 else chunks[0]

    def _content_type(self, request: Request, csv_ok: bool) -> str:
        raw = request.headers.get(b"content-type")
        if raw is None:
            return "json"
        kind = raw.split(b";", 1)[0].strip().lower()
        if kind in (b"application/json", b"") or kind.endswith(b"+json"):
            return "json"
        if csv_ok and kind == b"text/csv":
            return "csv"
        accepted = "application/json or text/csv" if csv_ok else "application/json"
        raise RequestError(
            415,
            f"content type {kind.decode('latin-1')[:60]!r} is not accepted; send {accepted}",
            field="content-type",
            code="UNSUPPORTED_MEDIA_TYPE",
        )

    def _endpoint(self, name: str) -> ServedEndpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            served = ", ".join(sorted(self.endpoints)) or "none"
            raise RequestError(
                404,
                f"no endpoint or model {name[:80]!r} is served here; served: {served}",
                field="name",
                code="NOT_FOUND",
            )
        return endpoint

    # -- predictions -----------------------------------------------------------------

    async def _predict(
        self,
        request: Request,
        endpoint: ServedEndpoint,
        target: Target,
        parse: Callable[[bytes, ServedModel], Any],
        proba: bool,
    ) -> tuple[ServedModel, Any, Any, float]:
        served = target.model
        batcher = served.batcher
        assert batcher is not None
        request.endpoint = endpoint.name
        request.model_version = served.uri
        started = time.perf_counter()
        looked_up: FeatureInputs | None = None
        lookup = None
        if endpoint.spec.feature_service is not None:
            from keel.errors import KeelError

            try:
                lookup = await self._open_features(endpoint.spec)
            except KeelError as exc:
                raise RequestError(503, str(exc), code="FEATURES_UNAVAILABLE") from None
        with batcher.arrival() as arrival:
            body = await self._body(request, endpoint.spec.limits.max_body_bytes)
            batch = parse(body, served)
            if lookup is not None:
                looked_up = await asyncio.to_thread(lookup.assemble, batch, served, endpoint.spec)
                batch = looked_up.batch
            try:
                prediction = await arrival.submit(
                    batch, proba, timeout=endpoint.spec.limits.timeout_s
                )
            except (RequestError, TimeoutError):
                raise
            except RuntimeError as exc:
                raise RequestError(
                    503, f"{exc}; retry on another replica", code="STOPPING"
                ) from None
            except Exception as exc:
                raise RequestError(
                    422,
                    f"model {served.uri} could not predict these rows: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else ''}",
                    code="PREDICTION_FAILED",
                ) from None
        latency = time.perf_counter() - started
        self._record(request, endpoint, served, batch, prediction, latency, looked_up)
        return served, batch, prediction, latency

    def _record(
        self,
        request: Request,
        endpoint: ServedEndpoint,
        served: ServedModel,
        batch: Any,
        prediction: Any,
        latency: float,
        looked_up: FeatureInputs | None = None,
    ) -> None:
        spec = endpoint.spec
        sampled_out = spec.log_sample_rate < 1.0 and random.random() >= spec.log_sample_rate  # noqa: S311
        if self.log is None or sampled_out:
            return
        record = LogRecord(
            request.request_id,
            time.time_ns() // 1_000_000,
            endpoint.name,
            served.uri,
            request.scope["path"][:200] if request.protocol else "",
            served.schema.names,
            batch,
            prediction,
            served.runtime.classes,
            latency * 1000.0,
            entities=None if looked_up is None else looked_up.entities,
            feature_ages=None if looked_up is None else looked_up.ages,
        )
        recent = self._recent
        recent[request.request_id] = (endpoint.name, served.uri)
        if len(recent) > _RECENT_IDS:
            recent.popitem(last=False)
        shadow = endpoint.shadow
        if shadow is not None and (
            spec.shadow is not None
            and (spec.shadow.sample_rate >= 1.0 or random.random() < spec.shadow.sample_rate)  # noqa: S311
        ):
            mirror(
                endpoint, shadow, batch, prediction, record, self.log, self.metrics, self.background
            )
        else:
            self.log.append(record)

    def _request_schema(self, endpoint: ServedEndpoint, served: ServedModel) -> Any:
        """What a request carries: the model's inputs, or entity keys (and request-time
        inputs) when the endpoint looks its features up."""
        if endpoint.spec.feature_service is None:
            return served.schema
        lookup = self.features.get(endpoint.name)
        if lookup is None or lookup.service != endpoint.spec.feature_service:
            raise RequestError(
                503, "the endpoint's feature lookup is being prepared; retry", code="STARTING"
            )
        return lookup.request_schema(served, endpoint.spec)

    def _choose(self, request: Request, endpoint: ServedEndpoint) -> Target:
        header = endpoint.spec.sticky_header
        sticky = request.headers.get(header.encode()) if header else None
        return endpoint.choose(sticky)

    async def _plain_predict(self, request: Request) -> Reply:
        endpoint = self._endpoint(request.params["name"])
        return await self._tabular(request, endpoint)

    async def _invocations(self, request: Request) -> Reply:
        if len(self.endpoints) != 1:
            raise RequestError(
                404,
                f"/invocations needs exactly one endpoint but {len(self.endpoints)} are served "
                f"({', '.join(sorted(self.endpoints))}); POST /v1/endpoints/{{name}}/predict",
                code="NOT_FOUND",
            )
        return await self._tabular(request, next(iter(self.endpoints.values())))

    async def _tabular(self, request: Request, endpoint: ServedEndpoint) -> Reply:
        content_type = self._content_type(request, csv_ok=True)
        proba = query_flag(request.scope, b"proba")
        target = self._choose(request, endpoint)
        served, _, prediction, _ = await self._predict(
            request,
            endpoint,
            target,
            lambda body, s: parse_tabular(body, content_type, self._request_schema(endpoint, s)),
            proba,
        )
        if proba and not served.runtime.has_proba:
            pass  # predictions only: the body says so by leaving probabilities out
        return Reply(
            plain_response(
                prediction, served.runtime.classes, served.uri, request.request_id, proba=proba
            )
        )

    async def _explain(self, request: Request) -> Reply:
        import orjson

        endpoint = self._endpoint(request.params["name"])
        content_type = self._content_type(request, csv_ok=True)
        target = self._choose(request, endpoint)
        served, batch, prediction, _ = await self._predict(
            request,
            endpoint,
            target,
            lambda body, s: parse_tabular(body, content_type, self._request_schema(endpoint, s)),
            False,
        )
        if batch.rows > _MAX_EXPLAIN_ROWS:
            raise RequestError(
                413,
                f"explain takes at most {_MAX_EXPLAIN_ROWS} rows per request; got {batch.rows}",
                field="inputs",
                code="TOO_MANY_ROWS",
            )

        def run() -> dict[str, Any]:
            return served.explainer().explain(batch, prediction.labels)  # type: ignore[no-any-return]

        result = await asyncio.to_thread(run)
        result["model_version"] = served.uri
        result["request_id"] = request.request_id
        return Reply(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY))

    # -- Open Inference Protocol -----------------------------------------------------

    def _oip_target(self, request: Request) -> tuple[ServedEndpoint, Target]:
        endpoint = self._endpoint(request.params["model"])
        request.endpoint = endpoint.name
        version = request.params.get("version")
        if version is None:
            return endpoint, self._choose(request, endpoint)
        target = endpoint.by_version(version)
        if target is None:
            served = ", ".join(str(t.model.version.version) for t in endpoint.targets)
            raise RequestError(
                404,
                f"model {endpoint.name!r} has no served version {version[:20]!r}; served "
                f"versions: {served}",
                code="NOT_FOUND",
            )
        return endpoint, target

    async def _oip_infer(self, request: Request) -> Reply:
        endpoint, target = self._oip_target(request)
        if endpoint.spec.feature_service is not None:
            raise RequestError(
                400,
                f"endpoint {endpoint.name!r} looks its features up by entity keys "
                f"(feature service {endpoint.spec.feature_service!r}); send the keys to POST "
                f"/v1/endpoints/{endpoint.name}/predict",
                code="FEATURE_ENDPOINT",
            )
        self._content_type(request, csv_ok=False)
        state: dict[str, Any] = {}
        given = request.headers.get(b"x-request-id")

        def parse(body: bytes, served: ServedModel) -> Any:
            payload = parse_json(body)
            if not isinstance(payload, dict):
                raise RequestError(
                    400, "the body must be an infer request object with inputs", field="body"
                )
            oip_id = payload.get("id")
            if oip_id is not None and not isinstance(oip_id, str):
                raise RequestError(400, "id must be a string", field="id")
            state["id"] = oip_id
            if oip_id and not given and REQUEST_ID.match(oip_id):
                request.request_id = oip_id  # the OIP id is the request id when no header is sent
            state["outputs"] = oip_wanted_outputs(payload, served.runtime.has_proba)
            return served.schema.from_oip(payload)

        served, _, prediction, _ = await self._predict(request, endpoint, target, parse, True)
        oip_id = state.get("id")
        predict, proba = state["outputs"]
        return Reply(
            oip_response(
                endpoint.name,
                served,
                prediction,
                request.request_id,
                oip_id if oip_id is not None else request.request_id,
                predict=predict,
                proba=proba,
            )
        )

    async def _oip_metadata(self, request: Request) -> Reply:
        import orjson

        endpoint, target = self._oip_target(request)
        versions = [str(t.model.version.version) for t in endpoint.targets]
        request.model_version = target.model.uri
        return Reply(orjson.dumps(oip_metadata(endpoint.name, versions, target.model)))

    async def _oip_model_ready(self, request: Request) -> Reply:
        import orjson

        endpoint, target = self._oip_target(request)
        request.model_version = target.model.uri
        return Reply(orjson.dumps({"name": endpoint.name, "ready": True}))

    async def _oip_server(self, request: Request) -> Reply:
        import orjson

        from keel._version import __version__

        return Reply(orjson.dumps({"name": "keel", "version": __version__, "extensions": []}))

    async def _live(self, request: Request) -> Reply:
        return Reply(b'{"live":true}')

    async def _ready(self, request: Request) -> Reply:
        if not self._started:
            return Reply(b'{"ready":false}', 503)
        return Reply(b'{"ready":true}')

    # -- the rest ----------------------------------------------------------------------

    async def _metrics(self, request: Request) -> Reply:
        body, ctype = self.metrics.exposition()
        return Reply(body, 200, ctype.encode())

    async def _list_endpoints(self, request: Request) -> Reply:
        import orjson

        out = []
        for e in self.endpoints.values():
            out.append(
                {
                    "name": e.name,
                    "targets": [
                        {
                            "model": t.ref,
                            "weight": t.weight,
                            "version": t.model.uri,
                            "runtime": t.model.runtime.kind,
                        }
                        for t in e.targets
                    ],
                    "shadow": None
                    if e.shadow is None
                    else {"model": e.shadow.ref, "version": e.shadow.model.uri},
                    "stored": self.stored[e.name].to_dict() if e.name in self.stored else None,
                }
            )
        return Reply(orjson.dumps({"endpoints": out, "switches": self.switches[-20:]}))

    async def _feedback(self, request: Request) -> Reply:
        import orjson

        self._content_type(request, csv_ok=False)
        entries = parse_feedback(parse_json(await self._body(request, 8 * 1024 * 1024)))
        known = {rid: self._recent[rid] for rid, _ in entries if rid in self._recent}
        missing = sorted({rid for rid, _ in entries if rid not in known})
        if missing and self._log_folder:
            from keel.serving._predlog import logged_request_ids

            if self.log is not None:
                await asyncio.to_thread(self.log.flush)
            known.update(
                await asyncio.to_thread(logged_request_ids, self._log_folder, missing[:1000])
            )
        now = time.time_ns() // 1_000_000
        accepted = 0
        unknown_ids: list[str] = []
        for rid, label in entries:
            logged = known.get(rid)
            if logged is None:
                unknown_ids.append(rid)
                continue
            if self.log is not None:
                self.log.append(FeedbackRecord(rid, now, logged[0], logged[1], label))
            accepted += 1
        body = {
            "accepted": accepted,
            "unknown_request_ids": unknown_ids,
            "request_id": request.request_id,
        }
        if unknown_ids:
            body["detail"] = (
                f"{len(unknown_ids)} request id(s) are not in the prediction log (never answered "
                "here, sampled out of the log, or logged by another worker less than a second ago)"
            )
        return Reply(orjson.dumps(body))

    async def _ping(self, request: Request) -> Reply:
        return Reply(b"{}")

    def _routes(self) -> Router:
        r = Router()
        for prefix in ("/v1/endpoints/{name}", "/v1/models/{name}"):
            r.add("POST", f"{prefix}/predict", self._plain_predict, "plain")
            r.add("POST", f"{prefix}/explain", self._explain, "plain")
        r.add("POST", "/invocations", self._invocations, "mlflow")
        r.add("GET", "/ping", self._ping, "mlflow")
        r.add("GET", "/health", self._ping, "mlflow")
        r.add("POST", "/v1/feedback", self._feedback, "plain")
        r.add("GET", "/v1/endpoints", self._list_endpoints, "plain")
        r.add("GET", "/metrics", self._metrics, "plain")
        r.add("GET", "/v2", self._oip_server, "oip")
        r.add("GET", "/v2/health/live", self._live, "oip")
        r.add("GET", "/v2/health/ready", self._ready, "oip")
        for prefix in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
            r.add("GET", prefix, self._oip_metadata, "oip")
            r.add("GET", f"{prefix}/ready", self._oip_model_ready, "oip")
            r.add("POST", f"{prefix}/infer", self._oip_infer, "oip")
        return r
