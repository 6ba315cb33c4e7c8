"""What every service is handed: the settings, the metadata ``Store``, the ``ArtifactStore``,
the project and the acting user, in one typed object.

Services (datasets, registry, gates, governance, pipelines) take
``context: Context | None = None``; ``None`` means :func:`current_context`: the context
made current with :func:`use_context` (or by ``keel.tracking.set_client``), else a
process default built from the settings in force (``KEEL_*`` variables, ``keel.toml``).

Nothing is opened when a context is built: the store is opened, and the artifact store
chosen, on first use. A context describes itself to another process with :meth:`spec`,
a small picklable :class:`ContextSpec` that the other process turns back into a
context with :meth:`Context.from_spec` (pipeline steps and search trials in worker
processes).

Example::

    >>> from keel.context import Context, use_context
    >>> from keel.config import Settings
    >>> with Context(Settings(home="/tmp/k")) as ctx, use_context(ctx):
    ...     keel.datasets.list()          # reads /tmp/k/keel.db
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.config import DEFAULT_PROJECT, PROJECT_PATTERN, Settings, load_settings
from keel.errors import InvalidArgumentError

if TYPE_CHECKING:
    from keel.artifacts import ArtifactStore
    from keel.store import Store

__all__ = [
    "Context",
    "ContextSpec",
    "current_context",
    "reset_context",
    "reset_default_context",
    "set_context",
    "use_context",
]


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """A context described for another process: picklable, small, and without objects.

    The store URI may carry a password, so it is left out of ``repr``. The API token is
    not carried: a worker reads ``KEEL_TOKEN`` (or the user's config file) itself, as it
    reads every setting the spec does not name.

    Attributes:
        store_uri: the metadata store's URI.
        artifact_root: the artifact root.
        project: the project.
        actor: the acting user (so a worker records the same one).
    """

    store_uri: str = field(repr=False)
    artifact_root: str = field(repr=False)
    project: str = DEFAULT_PROJECT
    actor: str | None = None


def _check_project(project: str) -> str:
    if not isinstance(project, str) or not PROJECT_PATTERN.match(project):
        raise InvalidArgumentError(
            f"project {str(project)[:80]!r} is not a project name; use 1-63 lowercase letters, "
            "digits, '_' or '-', starting with a letter or digit (like 'default' or 'fraud')"
        )
    return project


class Context:
    """The settings, metadata store, artifact store, project and actor a service works with.

    Args:
        settings: the settings; read from the environment and ``keel.toml`` on first
            use when ``None``.
        store: a store to use instead of opening ``settings.resolved_store_uri()``. It
            stays the caller's: :meth:`close` does not close it.
        artifacts: an artifact store to use instead of opening the settings' root.
        project: the project (``settings.project`` when ``None``).
        actor: the acting user (``settings.resolved_actor()`` when ``None``; a keel
            server passes the authenticated user).

    The constructor does no I/O. The store is opened on first use, once, even when
    several threads ask at the same time; :meth:`close` releases what the context
    opened, and a later use opens it again.

    Raises:
        InvalidArgumentError: ``project`` is not a valid project name.

    Example::

        >>> ctx = Context(Settings(home="/tmp/k"), project="fraud")
        >>> ctx.store.tracking.list_experiments()   # opens /tmp/k/keel.db now
        >>> ctx.close()
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        artifacts: ArtifactStore | None = None,
        project: str | None = None,
        actor: str | None = None,
    ) -> None:
        self._settings = settings
        self._actor = actor
        self._store = store
        self._own_store = store is None
        self._artifacts = artifacts
        self._own_artifacts = artifacts is None
        self._project = None if project is None else _check_project(project)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        project = self._project or (self._settings.project if self._settings else "?")
        return f"Context(project={project!r})"

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what it holds ----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings in force (read on first use when none were given)."""
        if self._settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = load_settings()
        return self._settings

    @property
    def project(self) -> str:
        """The project this context reads and writes (``default`` unless named)."""
        if self._project is not None:
            return self._project
        return self.settings.project

    @property
    def actor(self) -> str:
        """The user recorded as the actor of runs and changes.

        The one given to the constructor, else the user a keel server authenticated (for
        a REST store: a server records its own idea of who acts, whatever a client says),
        else ``KEEL_ACTOR`` or the OS user.
        """
        if self._actor is not None:
            return self._actor
        from keel.store import ServiceGateway

        uses_server = self._store is not None or self.store_uri.startswith(("http://", "https://"))
        if uses_server and isinstance(self.store, ServiceGateway):
            with self._lock:
                if self._actor is None:
                    self._actor = str(self.store.call_service("whoami", {})["user"])
            return self._actor
        return self.settings.resolved_actor()

    @property
    def store_uri(self) -> str:
        """The metadata store's URI (it may carry a password: show ``safe_uri`` of it)."""
        return self.settings.resolved_store_uri()

    @property
    def artifact_root(self) -> str:
        """The artifact root (that of the artifact store given, if one was)."""
        if self._artifacts is not None:
            return self._artifacts.root
        return self.settings.resolved_artifact_root()

    @property
    def store(self) -> Store:
        """The metadata store, bound to :attr:`project` (opened on first use).

        Raises:
            StoreError: the store cannot be reached.
            InvalidArgumentError: the store URI's scheme is not supported.
        """
        store = self._store
        if store is None:
            with self._lock:
                store = self._store
                if store is None:
                    from keel.store import open_store

                    settings = self._loaded_settings()
                    store = open_store(
                        settings.resolved_store_uri(),
                        project=self._project or settings.project,
                        settings=settings,
                    )
                    store.open()
                    self._store = store
        return store

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store (chosen by the root's scheme on first use)."""
        artifacts = self._artifacts
        if artifacts is None:
            with self._lock:
                artifacts = self._artifacts
                if artifacts is None:
                    from keel.artifacts import open_artifacts

                    settings = self._loaded_settings()
                    artifacts = open_artifacts(
                        settings.resolved_artifact_root(),
                        settings,
                        project=self._project or settings.project,
                    )
                    self._artifacts = artifacts
        return artifacts

    def _loaded_settings(self) -> Settings:
        # Under self._lock (not re-entrant): load without going through the property.
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def close(self) -> None:
        """Release the store and artifact store this context opened (ones given to it
        are left open).

        Idempotent; the context opens them again if it is used after this.
        """
        with self._lock:
            store, self._store = (self._store, None) if self._own_store else (None, self._store)
            artifacts, self._artifacts = (
                (self._artifacts, None) if self._own_artifacts else (None, self._artifacts)
            )
        if store is not None:
            store.close()
        if artifacts is not None:
            artifacts.close()

    # -- another process ----------------------------------------------------------------

    def spec(self) -> ContextSpec:
        """This context described for another process (see :meth:`from_spec`).

        Example::

            >>> spec = ctx.spec()                 # pickled with a step to a worker
            >>> worker_ctx = Context.from_spec(spec)
        """
        return ContextSpec(
            store_uri=self.store_uri,
            artifact_root=self.artifact_root,
            project=self.project,
            actor=self.actor,
        )

    @classmethod
    def from_spec(cls, spec: ContextSpec) -> Context:
        """A context on the store, artifact root and project ``spec`` names.

        The other settings (home, cache folder, token) are read where this runs.

        Raises:
            ConfigError: the spec's values, or the local settings, are invalid.
        """
        overrides: dict[str, Any] = {
            "store_uri": spec.store_uri,
            "artifact_root": spec.artifact_root,
            "project": spec.project,
        }
        if spec.actor is not None:
            overrides["actor"] = spec.actor
        return cls(load_settings(**overrides))


# -- the current context -----------------------------------------------------------------

_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "keel_context", default=None
)
# The process default: built on first need from the settings in force and shared by
# every thread that has not made another context current. Process-wide on purpose (one
# store connection pool per process); reset_default_context() drops it.
_default: Context | None = None
_default_lock = threading.Lock()


def current_context() -> Context:
    """The context services use when none is passed to them.

    The one made current in this thread or task (:func:`use_context`,
    :func:`set_context`, ``keel.tracking.set_client``), else the process default, built
    from the settings in force on first need (no I/O until it is used).

    Example::

        >>> current_context().project
        'default'
    """
    ctx = _current.get()
    if ctx is not None:
        return ctx
    global _default
    with _default_lock:
        if _default is None:
            _default = Context()
        return _default


def set_context(ctx: Context | None) -> contextvars.Token[Context | None]:
    """Make ``ctx`` current in this thread or task (``None``: back to the process default).

    Returns:
        A token for :func:`reset_context`, which restores the context current before.
    """
    if ctx is not None and not isinstance(ctx, Context):
        raise InvalidArgumentError(f"set_context needs a keel Context, got {type(ctx).__name__}")
    return _current.set(ctx)


def reset_context(token: contextvars.Token[Context | None]) -> None:
    """Restore the context that was current before the :func:`set_context` that gave ``token``."""
    _current.reset(token)


@contextlib.contextmanager
def use_context(ctx: Context) -> Iterator[Context]:
    """Make ``ctx`` current inside a ``with`` block (it is not closed at the end).

    Example::

        >>> with use_context(Context(Settings(home="/tmp/other"))) as ctx:
        ...     keel.models.list_models()     # the models of /tmp/other
    """
    token = set_context(ctx)
    try:
        yield ctx
    finally:
        reset_context(token)


def reset_default_context() -> Context | None:
    """Forget the process default context; the next need builds one from the settings.

    For programs (and tests) that change ``KEEL_*`` variables after keel was used.

    Returns:
        The default that was dropped (``None`` if none was built), for the caller to
        :meth:`~Context.close`.
    """
    global _default
    with _default_lock:
        dropped, _default = _default, None
    return dropped
