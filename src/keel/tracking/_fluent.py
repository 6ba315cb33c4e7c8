"""The fluent tracking API: ``with keel.start_run(...)`` and module-level ``log_*``.

The active client and the stack of active runs live in :mod:`contextvars`, so threads
and asyncio tasks each see their own, and nothing is kept in module globals. The client
follows :func:`keel.context.current_context`: making a context current
(``keel.context.use_context``) sends the fluent API's runs to it too.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import signal
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from keel.context import Context, current_context, reset_context, set_context
from keel.errors import InvalidArgumentError, KeelError, RunStateError
from keel.store import ArtifactRecord, Run, RunStatus
from keel.tracking._buffer import MetricsNotStoredError
from keel.tracking._client import Client, report_at_exit, runs_to_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ActiveRun",
    "ClientToken",
    "active_run",
    "end_run",
    "get_client",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "reset_client",
    "search_runs",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
    "use_client",
]

_client: contextvars.ContextVar[Client | None] = contextvars.ContextVar("keel_client", default=None)
_runs: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "keel_runs", default=()
)

_MAX_ERROR = 20_000


class RunTerminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives during a run."""


def get_client() -> Client:
    """The client the fluent API uses: one working on :func:`keel.context.current_context`.

    The client made current with :func:`set_client` while its context is the current
    one; otherwise a client on the current context, built (no I/O) and kept for it.
    """
    ctx = current_context()
    client = _client.get()
    if client is None or client.context is not ctx:
        client = Client(context=ctx)
        _client.set(client)
    return client


@dataclass(frozen=True, slots=True)
class ClientToken:
    """What :func:`set_client` replaced, for :func:`reset_client` to put back."""

    client: contextvars.Token[Client | None]
    context: contextvars.Token[Context | None]


def set_client(client: Client | None) -> ClientToken:
    """Make ``client`` the fluent API's client in this thread or task, and its context the
    current one (so services called without ``context=`` use it too).

    ``None`` resets both: the fluent API then builds a client on the process default
    context.

    Returns:
        A token for :func:`reset_client`, which restores what was current before.
    """
    context = None if client is None else client.context  # may read the settings: first
    return ClientToken(_client.set(client), set_context(context))


def reset_client(token: ClientToken) -> None:
    """Restore the client and context current before the :func:`set_client` that gave ``token``."""
    reset_context(token.context)
    _client.reset(token.client)


@contextlib.contextmanager
def use_client(client: Client) -> Iterator[Client]:
    """Make ``client`` (and its context) current inside a ``with`` block; not closed after.

    Example::

        >>> with keel.tracking.use_client(keel.Client(store_uri="sqlite:///other.db")):
        ...     with keel.start_run(experiment="iris"):
        ...         keel.log_metric("accuracy", 0.9)
    """
    token = set_client(client)
    try:
        yield client
    finally:
        reset_client(token)


class ActiveRun:
    """A started run; use as a context manager, or call :func:`end_run`.

    Attributes:
        id: the run id.
        info: the run as it was when started (use ``client.get_run(id)`` for fresh data).
    """

    def __init__(self, client: Client, run: Run) -> None:
        self.client = client
        self.info = run
        self.id = run.id
        self._previous_sigterm: Any = None
        self._ended = False

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.info.name!r})"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        clean = exc is None or (
            isinstance(exc, SystemExit)
            and not isinstance(exc, RunTerminated)
            and exc.code in (None, 0)
        )
        if clean:
            status, error = RunStatus.FINISHED, None
        elif isinstance(exc, KeyboardInterrupt | RunTerminated):
            why = "SIGTERM" if isinstance(exc, RunTerminated) else "SIGINT (KeyboardInterrupt)"
            status, error = RunStatus.KILLED, f"interrupted by {why}"
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            status, error = RunStatus.FAILED, text[-_MAX_ERROR:]
        try:
            self.end(status, error=error)
        except KeelError as end_error:
            if clean or exc is None:  # (exc is None when clean; for the type checker)
                raise
            # The block's own exception is the one to see; ours rides along with it.
            exc.add_note(f"keel: while ending run {self.id}: {end_error}")

    def end(self, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        """Flush the run's metrics, record its final status and make it inactive.

        Raises:
            MetricsNotStoredError: values of the run could not be stored (the run was
                ended elsewhere meanwhile, say); the run is inactive all the same.
            StoreError: the store could not be reached; the run stays ``RUNNING`` and
                its values queued.
        """
        if self._ended:
            return
        self._ended = True
        stack = _runs.get()
        if self in stack:
            _runs.set(tuple(r for r in stack if r is not self))
        self._restore_signal()
        try:
            self.client.end_run(self.id, status, error=error)
        except RunStateError:
            # Ended elsewhere (e.g. by client.end_run) and no value lost with it; lost
            # values are a MetricsNotStoredError, which is not caught here.
            pass

    def _install_signal(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            self._previous_sigterm = signal.getsignal(signal.SIGTERM)

            def _on_sigterm(signum: int, frame: FrameType | None) -> None:
                raise RunTerminated(128 + signum)

            signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # pragma: no cover - not in the main interpreter
            self._previous_sigterm = None

    def _restore_signal(self) -> None:
        if (
            self._previous_sigterm is not None
            and threading.current_thread() is threading.main_thread()
        ):
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def start_run(
    experiment: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    run_id: str | None = None,
) -> ActiveRun:
    """Start a run and make it the active one.

    Args:
        experiment: experiment name (created if missing); ``KEEL_EXPERIMENT`` or
            ``"default"`` when not given.
        run_name: a human name; a short generated one otherwise.
        tags: tags to set on the run.
        nested: start a child of the active run (e.g. an HPO trial).
        run_id: attach to an existing RUNNING run instead of creating one.

    Returns:
        An :class:`ActiveRun`. Used as a context manager, the run ends FINISHED, FAILED
        (with the traceback) on an exception, or KILLED on SIGINT/SIGTERM.

    Raises:
        InvalidArgumentError: a run is already active and ``nested`` is false.

    Example::

        >>> with keel.start_run(experiment="iris", run_name="rf") as run:
        ...     keel.log_param("n_estimators", 100)
        ...     keel.log_metric("accuracy", 0.96)
    """
    import os

    stack = _runs.get()
    if stack and not nested:
        raise InvalidArgumentError(
            f"run {stack[-1].id} is already active; pass nested=True to start a child run, "
            "or end it first with keel.end_run()"
        )
    client = get_client()
    if run_id is not None:
        run = client.get_run(run_id)
        if run.status is not RunStatus.RUNNING:
            raise RunStateError(f"run {run.id} has ended ({run.status}); it cannot be resumed")
    else:
        if experiment is None and stack:
            experiment_name = client.store.tracking.get_experiment(
                stack[-1].info.experiment_id
            ).name
        else:
            experiment_name = experiment or os.environ.get("KEEL_EXPERIMENT", "default")
        run = client.create_run(
            experiment_name,
            run_name=run_name,
            tags=tags,
            parent_run_id=stack[-1].id if stack else None,
        )
    active = ActiveRun(client, run)
    if not stack:
        active._install_signal()
        # Registered once however many runs start: unregister drops an earlier copy.
        atexit.unregister(_end_runs_at_exit)
        atexit.register(_end_runs_at_exit)
    _runs.set((*stack, active))
    return active


def _end_runs_at_exit() -> None:
    # A script that never ended its runs: close them FINISHED, as a with-block would.
    # What cannot be done now is lost with the process: say so on stderr.
    for active in reversed(_runs.get()):
        try:
            active.end(RunStatus.FINISHED)
        except MetricsNotStoredError as exc:
            for item in exc.unstored:
                report_at_exit(item.describe())
        except Exception as exc:
            # The store's own words (the buffer's wrapper repeats the run id).
            why = exc.__cause__ if isinstance(exc.__cause__, KeelError) else exc
            report_at_exit(
                f"run {active.id} could not be marked FINISHED at exit and stays RUNNING: {why}"
            )


def active_run() -> ActiveRun | None:
    """The innermost active run in this context, or ``None``."""
    stack = _runs.get()
    return stack[-1] if stack else None


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidArgumentError(
            "no active run; wrap the code in `with keel.start_run(experiment=...):`"
        )
    return run


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run (no-op when none is active)."""
    run = active_run()
    if run is not None:
        run.end(RunStatus(status))


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log one metric value to the active run (non-blocking)."""
    run = _require_run()
    run.client.log_metric(run.id, key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metric values at one step to the active run."""
    run = _require_run()
    run.client.log_metrics(run.id, metrics, step)


def log_param(key: str, value: Any) -> None:
    """Record a param of the active run; it cannot change afterwards."""
    run = _require_run()
    run.client.log_param(run.id, key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Record several params of the active run."""
    run = _require_run()
    run.client.log_params(run.id, params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    run = _require_run()
    run.client.set_tag(run.id, key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags on the active run."""
    run = _require_run()
    run.client.set_tags(run.id, tags)


def log_input(source: Any, relation: str = "input") -> None:
    """Record that the active run used ``source`` (e.g. a DatasetVersion) — a lineage edge."""
    run = _require_run()
    run.client.log_input(run.id, source, relation)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> ArtifactRecord:
    """Store a file as an artifact of the active run."""
    run = _require_run()
    return run.client.log_artifact(run.id, local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> list[ArtifactRecord]:
    """Store a folder's files as artifacts of the active run."""
    run = _require_run()
    return run.client.log_artifacts(run.id, local_dir, artifact_path)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> ArtifactRecord:
    """Store a dict as JSON/YAML in the active run."""
    run = _require_run()
    return run.client.log_dict(run.id, dictionary, artifact_file)


def log_text(text: str, artifact_file: str) -> ArtifactRecord:
    """Store text in the active run."""
    run = _require_run()
    return run.client.log_text(run.id, text, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> ArtifactRecord:
    """Store a matplotlib figure as PNG in the active run."""
    run = _require_run()
    return run.client.log_figure(run.id, figure, artifact_file)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] = (),
    max_results: int = 1000,
) -> pd.DataFrame:
    """Search runs and return a DataFrame (one row per run).

    Example::

        >>> keel.search_runs("iris", filter="metrics.accuracy > 0.9 and params.model = 'rf'",
        ...                  order_by=["metrics.accuracy DESC"], max_results=10)
    """
    runs = get_client().search_runs(experiment, filter, order_by, max_results)
    return runs_to_frame(runs)
