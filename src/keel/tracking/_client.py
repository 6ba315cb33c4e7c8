"""``keel.Client``: explicit access to experiments, runs and artifacts by id."""

from __future__ import annotations

import atexit
import io
import json
import numbers
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel._clock import now_ms
from keel.artifacts import ArtifactStore, StoredObject, check_artifact_path
from keel.config import Settings, load_settings
from keel.context import Context
from keel.errors import InvalidArgumentError, NotFoundError, StoreError
from keel.store import (
    ArtifactRecord,
    Experiment,
    Metric,
    Run,
    RunStatus,
    Store,
)
from keel.store._tracking import MAX_KEY_LENGTH, check_key
from keel.tracking._artifacts import (
    list_run_artifacts,
    read_run_artifact,
    record_run_artifact,
    write_run_artifact,
)
from keel.tracking._buffer import MetricBuffer, MetricsNotStoredError, UnstoredMetrics
from keel.tracking._system import system_tags

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Client", "flush_queued_metrics", "runs_to_frame"]

# The clients of this process that have queued metric values (held weakly), so a service
# about to read a run can have them written first: flush_queued_metrics.
_QUEUEING: weakref.WeakSet[Client] = weakref.WeakSet()
_QUEUEING_LOCK = threading.Lock()


def _as_float(key: str, value: Any) -> float:
    # Fast path for the common types: the ABC check below costs more than the rest
    # of queueing a value.
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            import numpy as np

            if isinstance(value, np.generic) and np.ndim(value) == 0:
                return float(value)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
        raise InvalidArgumentError(
            f"metric {key!r} got {value!r} ({type(value).__name__}); metrics are numbers — "
            "log text as a tag or param instead"
        )
    return float(value)


def _param_text(value: Any) -> str:
    # Params are text; very long values (a whole pipeline's repr) are cut, not refused.
    return str(value)[:6000]


class Client:
    """Explicit, thread-safe access to keel's tracking data.

    A client works on a :class:`~keel.context.Context` (settings, store, artifact store,
    project): the one given, or one it builds from ``store_uri``, ``artifact_root`` and
    ``settings`` on first use. It adds what tracking needs on top: a queue of metric
    values written in the background, experiment ids by name, system tags on new runs.

    Args:
        store_uri: metadata store URI; defaults to the configured one (``KEEL_STORE_URI``).
        artifact_root: artifact folder or URL; defaults to the configured one.
        settings: a :class:`~keel.config.Settings` to use instead of reading the environment.
        context: a context to work on (then the other arguments must not be given). It
            stays its owner's: :meth:`close` does not close its store.

    Nothing is opened until first use.

    Example::

        >>> client = keel.Client()
        >>> run = client.create_run("iris")
        >>> client.log_metric(run.id, "accuracy", 0.95)
        >>> client.end_run(run.id)
    """

    def __init__(
        self,
        store_uri: str | None = None,
        artifact_root: str | None = None,
        *,
        settings: Settings | None = None,
        context: Context | None = None,
    ) -> None:
        if context is not None and (store_uri or artifact_root or settings is not None):
            raise InvalidArgumentError(
                "give a Client either a context or store_uri/artifact_root/settings, not both"
            )
        self._context = context
        self._owns_context = context is None
        self._overrides = {
            key: value
            for key, value in (("store_uri", store_uri), ("artifact_root", artifact_root))
            if value
        }
        self._given_settings = settings
        self._buffer: MetricBuffer | None = None
        self._lock = threading.Lock()
        # experiment name -> id; experiments are never renamed or deleted, so a cached
        # id stays right (create_run drops it and retries if the store says otherwise)
        self._experiment_ids: dict[str, str] = {}

    # -- the context and what it holds --------------------------------------------------

    @property
    def context(self) -> Context:
        """The context this client works on (built on first use when none was given)."""
        if self._context is None:
            with self._lock:
                if self._context is None:
                    self._context = Context(self._build_settings())
        return self._context

    def _build_settings(self) -> Settings:
        base = self._given_settings
        if not self._overrides:
            return base if base is not None else load_settings()
        if base is None:
            return load_settings(**self._overrides)
        # every value of the given settings, explicitly, so the environment cannot win
        return load_settings(**{**base.model_dump(), **self._overrides})

    @property
    def settings(self) -> Settings:
        """The settings in force for this client."""
        return self.context.settings

    @property
    def store_uri(self) -> str:
        """The metadata store URI this client uses (another process can open the same)."""
        return self.context.store_uri

    @property
    def artifact_root(self) -> str:
        """The artifact root this client uses."""
        return self.context.artifact_root

    @property
    def store(self) -> Store:
        """The metadata store (opened on first use)."""
        return self.context.store

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store."""
        return self.context.artifacts

    @property
    def _metrics(self) -> MetricBuffer:
        if self._buffer is None:
            with self._lock:
                if self._buffer is None:
                    self._buffer = MetricBuffer(
                        self.store.tracking,
                        self.settings.metric_flush_interval,
                        self.settings.metric_flush_size,
                    )
                    # Flush at interpreter exit without keeping the client alive.
                    ref = weakref.ref(self)
                    atexit.register(_flush_at_exit, ref)
                    with _QUEUEING_LOCK:
                        _QUEUEING.add(self)
        return self._buffer

    def close(self) -> None:
        """Flush queued metrics and release the store's connections (when this client
        built its context; a context given to it is its owner's to close).

        Raises:
            MetricsNotStoredError: some queued values could not be stored (the store
                refused them, or could not be reached); the client is closed anyway.
        """
        lost = self._buffer.close() if self._buffer is not None else []
        self._buffer = None
        if self._owns_context and self._context is not None:
            self._context.close()
        self._experiment_ids.clear()
        if lost:
            raise MetricsNotStoredError(lost)

    # -- experiments ----------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment; ``ConflictError`` if the name exists."""
        return self.store.tracking.create_experiment(name, tags)

    def get_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``; ``NotFoundError`` listing the nearest names."""
        exp = self.store.tracking.get_experiment_by_name(name)
        if exp is None:
            import difflib

            names = [e.name for e in self.store.tracking.list_experiments()]
            near = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
            hint = (
                f"; nearest: {', '.join(near)}"
                if near
                else (
                    f"; experiments are: {', '.join(names[:10])}"
                    if names
                    else "; there are none yet"
                )
            )
            raise NotFoundError(f"experiment {name!r} does not exist{hint}")
        return exp

    def list_experiments(self) -> list[Experiment]:
        """All experiments, oldest first."""
        return self.store.tracking.list_experiments()

    # -- runs -----------------------------------------------------------------------

    def create_run(
        self,
        experiment: str = "default",
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Start a run in the experiment (created if missing), with system tags recorded."""
        user = self.settings.resolved_actor()
        all_tags = system_tags(user)
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        cached = experiment in self._experiment_ids
        exp_id = self._experiment_id(experiment)
        try:
            return self.store.tracking.create_run(
                exp_id, name=run_name, tags=all_tags, parent_run_id=parent_run_id, user=user
            )
        except NotFoundError:
            if not cached:
                raise
            # The store no longer has the cached experiment (a reset database, say).
            self._experiment_ids.pop(experiment, None)
            return self.store.tracking.create_run(
                self._experiment_id(experiment),
                name=run_name,
                tags=all_tags,
                parent_run_id=parent_run_id,
                user=user,
            )

    def _experiment_id(self, name: str) -> str:
        # Saves a read transaction per run: runs are created by the hundred in searches.
        exp_id = self._experiment_ids.get(name)
        if exp_id is None:
            exp_id = self.store.tracking.get_or_create_experiment(name).id
            self._experiment_ids[name] = exp_id
        return exp_id

    def get_run(self, run_id: str) -> Run:
        """A run by id or unique id prefix."""
        run_id = self.resolve_run_id(run_id)
        self._flush_for_read(run_id)
        return self.store.tracking.get_run(run_id)

    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the run whose id starts with ``prefix``."""
        if len(prefix) == 32:
            return prefix
        return self.store.tracking.resolve_run_id(prefix)

    def end_run(
        self, run_id: str, status: RunStatus | str = RunStatus.FINISHED, error: str | None = None
    ) -> Run:
        """Flush the run's metrics and mark it ended (one transaction for both)."""
        status = RunStatus(status)
        if self._buffer is None:
            return self.store.tracking.end_run(run_id, status, error=error)
        return self._buffer.flush_with(
            run_id,
            lambda metrics: self.store.tracking.end_run(
                run_id, status, error=error, metrics=metrics
            ),
        )

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Queue one metric value (written in the background; see :meth:`flush`).

        Raises:
            InvalidArgumentError: the name or the value is invalid.
            MetricsNotStoredError: the store refused earlier values of this run (it
                was ended by someone else, say): they are lost, and so is this one.
        """
        # Checked here, not when the batch is written: a bad name must not sink the
        # good values queued with it. (Inlined: this is the hot path.)
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
            check_key("metric", key)
        self._metrics.add(
            run_id,
            key,
            _as_float(key, value),
            0 if step is None else int(step),
            now_ms() if timestamp is None else int(timestamp),
        )

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Queue several metric values at one step."""
        ts = now_ms() if timestamp is None else int(timestamp)
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step, ts)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Write metrics, params and tags now, in one transaction."""
        self.store.tracking.log_batch(
            run_id,
            list(metrics),
            {k: _param_text(v) for k, v in (params or {}).items()},
            {k: str(v) for k, v in (tags or {}).items()},
        )

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Record a param (written at once; a different value later is an error)."""
        self.log_batch(run_id, params={key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record several params at once."""
        self.log_batch(run_id, params=params)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (tags may change while the run runs)."""
        self.log_batch(run_id, tags={key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        self.log_batch(run_id, tags=tags)

    def flush(self, run_id: str | None = None) -> None:
        """Write queued metric values now: every run's, or one run's.

        Each run's values are written on their own, so one run's failure costs no
        other run a value.

        Args:
            run_id: only this run's values (and only this run's errors).

        Raises:
            StoreError: the store could not be reached; the values stay queued and
                the next flush writes them.
            MetricsNotStoredError: (with ``run_id``) the store refused values of that
                run, now or in a background flush; they are lost.
        """
        if self._buffer is None:
            return
        if run_id is not None:
            self._buffer.flush_run(run_id)
            return
        unreachable = self._buffer.flush()
        if unreachable:
            raise StoreError(_unreachable_message(unreachable))

    def _flush_for_read(self, run_id: str | None = None) -> None:
        # Before a read: write what is queued, best effort. A failure is not the
        # reader's: unreachable values stay queued, refused ones go to their run.
        if self._buffer is not None:
            self._buffer.flush(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value of one metric of a run, by step."""
        run_id = self.resolve_run_id(run_id)
        self._flush_for_read(run_id)
        return self.store.tracking.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
    ) -> list[Run]:
        """Runs matching a filter, e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.

        Args:
            experiments: experiment name(s); all experiments when ``None``.
            filter: the filter expression (see docs/concepts/tracking.md).
            order_by: e.g. ``["metrics.accuracy DESC"]``.
            max_results: at most this many runs.

        Raises:
            NotFoundError: an experiment does not exist; or nothing matched and the
                filter names a metric, param or tag that no run of the experiments
                has (the message lists the nearest names).
        """
        self._flush_for_read()
        if experiments is None:
            ids = [e.id for e in self.list_experiments()]
        else:
            names = [experiments] if isinstance(experiments, str) else list(experiments)
            ids = [self.get_experiment(n).id for n in names]
        return self.store.tracking.search_runs(ids, filter, list(order_by), max_results)

    def log_input(self, run_id: str, source: Any, relation: str = "input") -> None:
        """Record that the run used ``source`` (a lineage edge source -> run).

        Args:
            run_id: the run.
            source: a :class:`~keel.store.LineageNode` or anything with ``lineage_node()``
                (a ``DatasetVersion``, a ``ModelVersion``).
            relation: how it was used: ``"input"``, ``"trained_on"``, ``"evaluated_on"``...
        """
        from keel.store import LineageEdge, LineageNode

        node = source if isinstance(source, LineageNode) else getattr(source, "lineage_node", None)
        if callable(node):
            node = node()
        if not isinstance(node, LineageNode):
            raise InvalidArgumentError(
                f"cannot log {type(source).__name__} as a run input; pass a DatasetVersion, "
                "a ModelVersion or a keel.store.LineageNode"
            )
        run = self.store.tracking.get_run(self.resolve_run_id(run_id))
        self.store.lineage.add_edges(
            [LineageEdge(node, LineageNode("run", run.id, run.name), relation)]
        )

    def list_inputs(self, run_id: str) -> list[tuple[str, Any]]:
        """The ``(relation, LineageNode)`` pairs recorded as inputs of a run."""
        from keel.store import LineageNode

        graph = self.store.lineage.upstream(
            LineageNode("run", self.resolve_run_id(run_id)), max_depth=1
        )
        return [(e.relation, e.source) for e in graph.edges]

    # -- artifacts ------------------------------------------------------------------

    def _record(self, run_id: str, name: str, obj: StoredObject) -> ArtifactRecord:
        return record_run_artifact(self.context, run_id, name, obj)

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> ArtifactRecord:
        """Store a local file as ``<artifact_path>/<file name>``."""
        path = Path(local_path)
        if not path.is_file():
            raise NotFoundError(f"cannot log {str(path)!r}: no such file")
        name = f"{artifact_path.rstrip('/')}/{path.name}" if artifact_path else path.name
        check_artifact_path(name)
        return self._record(run_id, name, self.artifacts.put_file(path))

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str | None = None
    ) -> list[ArtifactRecord]:
        """Store every file under a local folder, keeping relative paths."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotFoundError(f"cannot log {str(root)!r}: no such folder")
        records = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            name = f"{artifact_path.rstrip('/')}/{rel}" if artifact_path else rel
            check_artifact_path(name)
            records.append(self._record(run_id, name, self.artifacts.put_file(file)))
        return records

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> ArtifactRecord:
        """Store bytes as an artifact."""
        return write_run_artifact(self.context, run_id, artifact_file, data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> ArtifactRecord:
        """Store text (UTF-8) as an artifact."""
        return self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(
        self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str
    ) -> ArtifactRecord:
        """Store a dict as JSON (or YAML when the name ends in .yaml/.yml)."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str, allow_nan=True)
        return self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> ArtifactRecord:
        """Store a matplotlib figure as PNG."""
        if not artifact_file.lower().endswith(".png"):
            raise InvalidArgumentError(
                f"figure artifact {artifact_file!r} must end in .png; figures are saved as PNG"
            )
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        return self.log_bytes(run_id, buf.getvalue(), artifact_file)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactRecord]:
        """Artifacts of a run under a folder (all when ``path`` is empty)."""
        return list_run_artifacts(self.context, run_id, path)

    def load_artifact_bytes(self, run_id: str, artifact_file: str) -> bytes:
        """The verified bytes of one artifact."""
        return read_run_artifact(self.context, run_id, artifact_file)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | Path = ".") -> Path:
        """Copy an artifact (or a folder of them) to ``dst_path``, verifying each sha256.

        Returns the local path of the file or folder.
        """
        records = self.list_artifacts(run_id, path)
        if not records:
            raise NotFoundError(f"run {run_id} has no artifact under {path or '/'!r}")
        dst = Path(dst_path)
        for record in records:
            self.artifacts.download(
                record.sha256, dst / record.path, name=f"artifact {record.path!r}"
            )
        return dst / path if path else dst


def flush_queued_metrics(run_id: str, context: Context | None = None) -> None:
    """Write the metric values this process still queues for a run, before reading it.

    Metric values are written in the background (every ``metric_flush_interval``
    seconds); a service that reads a run's metrics (registering its model records them)
    calls this first, so values logged a moment ago are not missed. Best effort: values
    the store cannot take stay queued (or go to their run's owner as
    ``MetricsNotStoredError``), as with a read by :meth:`Client.get_run`.

    Args:
        run_id: the run.
        context: only the clients working on this context (all clients when ``None``).
    """
    with _QUEUEING_LOCK:
        clients = list(_QUEUEING)
    for client in clients:
        if context is not None and client._context is not context:
            continue
        buffer = client._buffer
        if buffer is not None:
            buffer.flush(run_id)


def _unreachable_message(unreachable: Sequence[UnstoredMetrics]) -> str:
    count = sum(item.count for item in unreachable)
    runs = ", ".join(item.run_id for item in unreachable[:3])
    more = ", ..." if len(unreachable) > 3 else ""
    return (
        f"{count} metric value(s) of run(s) {runs}{more} could not be written: "
        f"{unreachable[0].reason}; they stay queued and the next flush writes them"
    )


def report_at_exit(message: str) -> None:
    """Tell the user on stderr about something lost as the interpreter exits."""
    try:
        sys.stderr.write(f"keel: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass


def _flush_at_exit(ref: weakref.ReferenceType[Client]) -> None:
    # The last chance to store queued values: whatever cannot be written is lost with
    # the process, so say which run, how many values and why.
    client = ref()
    if client is None or client._buffer is None:
        return
    try:
        lost = client._buffer.close()
    except Exception as exc:  # pragma: no cover - the buffer itself failed
        report_at_exit(f"queued metric values may not have been stored: {exc!r}")
        return
    for item in lost:
        report_at_exit(item.describe())


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Runs as a DataFrame: one row per run, columns ``metrics.*``, ``params.*``, ``tags.*``."""
    import pandas as pd

    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.id,
            "experiment_id": run.experiment_id,
            "run_name": run.name,
            "status": run.status.value,
            "start_time": pd.Timestamp(run.start_time, unit="ms", tz="UTC"),
            "end_time": pd.Timestamp(run.end_time, unit="ms", tz="UTC") if run.end_time else pd.NaT,
            "parent_run_id": run.parent_run_id,
        }
        row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
        row.update({f"params.{k}": v for k, v in run.params.items()})
        row.update({f"tags.{k}": v for k, v in run.tags.items() if not k.startswith("keel.")})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(
            columns=[
                "run_id",
                "experiment_id",
                "run_name",
                "status",
                "start_time",
                "end_time",
                "parent_run_id",
            ]
        )
    return frame
