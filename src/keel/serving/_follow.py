"""Following what a server serves while it runs: aliases that move, stored endpoints that change.

Every endpoint is polled at its ``poll_interval_s``. A stored endpoint (``keel serve
NAME``) is re-read first: a newer revision is loaded whole — every target and the
shadow loaded, verified and warmed while the old revision answers — and then replaces
the old one in one assignment. Otherwise each target that names an alias is re-read,
and a moved alias swaps that target's model the same way. Requests that already chose
an old model finish on it; it is stopped once its queue is empty. Nothing that fails
to load ever replaces what is serving: the failure is logged and the old one stays.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from keel.errors import NotFoundError
from keel.serving._traffic import ServedEndpoint, Target, retire

if TYPE_CHECKING:
    from keel.serving._app import ServingApp
    from keel.serving._models import ServedModel
    from keel.serving._spec import EndpointSpec

__all__ = ["Follower", "StoredState"]

logger = logging.getLogger("keel.serving")


class StoredState:
    """What a server knows of one stored endpoint it serves.

    Attributes:
        revision: the revision being served.
        deleted_at: the revision that deleted it (it is still served), or ``None``.
        failed: a newer revision that could not be loaded (not tried again).
    """

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.deleted_at: int | None = None
        self.failed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``GET /v1/endpoints``."""
        return {"revision": self.revision, "deleted": self.deleted_at is not None}


class Follower:
    """The polling loop of one :class:`ServingApp` (started with the app when needed)."""

    def __init__(self, app: ServingApp) -> None:
        self._app = app

    def needed(self) -> bool:
        """Whether anything served can change: a stored endpoint, or a target on an alias."""
        app = self._app
        return bool(app.stored) or any(
            t.follows_alias for e in app.endpoints.values() for t in e.every_target()
        )

    async def run(self) -> None:
        """Poll until cancelled."""
        app = self._app
        loop = asyncio.get_running_loop()
        for endpoint in app.endpoints.values():
            endpoint.next_poll = loop.time() + endpoint.spec.poll_interval_s
        while True:
            wake = min(e.next_poll for e in app.endpoints.values())
            await asyncio.sleep(max(0.01, wake - loop.time()))
            for name, endpoint in list(app.endpoints.items()):
                if loop.time() < endpoint.next_poll:
                    continue
                try:
                    switched = name in app.stored and await self.follow_endpoint(endpoint)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the store may be unreachable for a while
                    logger.error(
                        "endpoint %s: cannot read its stored revision (%s); still serving "
                        "revision %s",
                        name,
                        exc,
                        app.stored[name].revision,
                    )
                    switched = False
                current = app.endpoints[name]
                if not switched:
                    await self._follow_aliases(current)
                current.next_poll = loop.time() + current.spec.poll_interval_s

    async def _follow_aliases(self, endpoint: ServedEndpoint) -> None:
        for target in endpoint.every_target():
            if not target.follows_alias:
                continue
            try:
                await self.follow_alias(endpoint, target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.error(
                    "endpoint %s: cannot follow %s (%s); still serving %s",
                    endpoint.name,
                    target.ref,
                    exc,
                    target.model.uri,
                )

    def _record(self, event: dict[str, Any]) -> None:
        app = self._app
        event["time"] = time.time()
        app.switches.append(event)
        del app.switches[:-100]  # the recent ones; the log has them all
        app.metrics.switches.labels(event["endpoint"]).inc()

    def _retire(self, endpoint: str, models: list[ServedModel]) -> None:
        """Stop replaced models once everyone who chose them has been answered."""
        app = self._app
        loop = asyncio.get_running_loop()
        current = app.endpoints.get(endpoint)
        serving = {
            (t.model.uri, t.model.runtime.kind) for t in (current.every_target() if current else [])
        }
        for old in models:
            if (old.uri, old.runtime.kind) not in serving:  # the new revision may serve it too
                app.metrics.model_info.labels(endpoint, old.uri, old.runtime.kind).set(0)
            task = loop.create_task(retire(old))
            app.background.add(task)
            task.add_done_callback(app.background.discard)

    async def follow_alias(self, endpoint: ServedEndpoint, target: Target) -> bool:
        """Re-read the target's alias; when it moved, load and warm the new version, then
        switch to it (requests already on the old version finish there). Returns whether
        the target switched."""
        from keel.registry import get_version

        app = self._app
        version = await asyncio.to_thread(get_version, target.ref, context=app.context)
        old = target.model
        if version.uri == old.uri:
            return False
        new = await app.load_model(target.ref, endpoint.spec, version)
        app.start_model(endpoint.name, new)
        target.model = new  # one assignment: each request sees the old model or the new one
        self._retire(endpoint.name, [old])
        self._record(
            {
                "endpoint": endpoint.name,
                "target": target.ref,
                "from": old.uri,
                "to": new.uri,
                "load_seconds": round(new.load_seconds, 3),
            }
        )
        logger.warning(
            "endpoint %s: %s moved from %s to %s; switched after loading and warming %s in %.2f s",
            endpoint.name,
            target.ref,
            old.uri,
            new.uri,
            new.uri,
            new.load_seconds,
        )
        return True

    async def follow_endpoint(self, endpoint: ServedEndpoint) -> bool:
        """Re-read a stored endpoint; when it has a newer revision, load and warm all of
        it, then serve it instead of the old one. Returns whether it switched.

        A deleted endpoint keeps being served (at its last revision) until the server
        stops: deleting the record is not a way to drop live traffic. It is logged once.
        """
        from keel.serving._endpoints import endpoint_spec, get_endpoint

        app = self._app
        name = endpoint.name
        state = app.stored[name]
        try:
            stored = await asyncio.to_thread(get_endpoint, name, context=app.context)
        except NotFoundError as exc:
            if state.deleted_at is None:
                state.deleted_at = state.revision
                logger.warning(
                    "endpoint %s: %s; still serving revision %s until this server stops",
                    name,
                    exc,
                    state.revision,
                )
            return False
        state.deleted_at = None
        if stored.revision == state.revision or stored.revision == state.failed:
            return False
        started = time.perf_counter()
        try:
            spec = endpoint_spec(stored)
            new = await self.build(spec)
        except Exception as exc:
            state.failed = stored.revision
            logger.error(
                "endpoint %s: revision %s cannot be served (%s); still serving revision %s",
                name,
                stored.revision,
                exc,
                state.revision,
            )
            return False
        old_revision = state.revision
        new.next_poll = endpoint.next_poll
        app.endpoints[name] = new  # one assignment: a request sees the old revision or the new
        app.replace_spec(spec)
        state.revision, state.failed = stored.revision, None
        self._retire(name, [t.model for t in endpoint.every_target()])
        self._record(
            {
                "endpoint": name,
                "target": "*",
                "from": f"revision {old_revision}",
                "to": f"revision {stored.revision}",
                "versions": [t.model.uri for t in new.every_target()],
                "load_seconds": round(time.perf_counter() - started, 3),
            }
        )
        logger.warning(
            "endpoint %s: revision %s (by %s) replaced revision %s; now serving %s, after "
            "loading and warming in %.2f s",
            name,
            stored.revision,
            stored.updated_by,
            old_revision,
            ", ".join(f"{t.ref} -> {t.model.uri}" for t in new.every_target()),
            time.perf_counter() - started,
        )
        return True

    async def build(self, spec: EndpointSpec) -> ServedEndpoint:
        """Load, verify, warm and start every model of ``spec`` (stopping them again if
        one fails, so a failed revision leaves nothing running)."""
        app = self._app
        started: list[ServedModel] = []
        try:
            targets = []
            for t in spec.targets:
                model = await app.load_model(t.model, spec)
                app.start_model(spec.name, model)
                started.append(model)
                targets.append(Target(t.model, t.weight, model))
            shadow = None
            if spec.shadow is not None:
                model = await app.load_model(spec.shadow.model, spec)
                app.start_model(spec.name, model)
                started.append(model)
                shadow = Target(spec.shadow.model, 0.0, model)
        except BaseException:
            for model in started:
                app.metrics.model_info.labels(spec.name, model.uri, model.runtime.kind).set(0)
                if model.batcher is not None:
                    await model.batcher.close()
            raise
        return ServedEndpoint(spec, targets, shadow)
