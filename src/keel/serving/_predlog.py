"""The prediction log and feedback: Parquet files under the artifact root, written by a
background thread, readable with DuckDB while the server runs.

Layout (Hive partitions, so ``read_parquet(..., hive_partitioning=true)`` filters on
them)::

    <artifact root>/serving/project=<p>/predictions/endpoint=<name>/date=<YYYY-MM-DD>/part-<ms>-<pid>-<n>.parquet
    <artifact root>/serving/project=<p>/feedback/endpoint=<name>/date=<YYYY-MM-DD>/part-<ms>-<pid>-<n>.parquet

When the artifact root is a keel server (``http(s)://``), which stores content-addressed
objects only, the logs go to ``<KEEL_HOME>/serving/project=<p>/`` on the serving machine
instead (:func:`log_root`).

Each file is written under a temporary name and renamed into place, so a reader never
sees half a file; file names carry the process id, so several workers never write the
same file. The request path only puts a record in a bounded queue: when the queue is
full the record is dropped and counted, never waited for. Closing the log (the server's
shutdown, which SIGTERM triggers) writes everything queued.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["LogRecord", "PredictionLog", "log_root", "read_feedback", "read_prediction_log"]

_STOP = object()


@dataclass(slots=True)
class LogRecord:
    """One logged request; inputs and outputs are serialised in the writer thread."""

    request_id: str
    time_ms: int
    endpoint: str
    model_version: str
    route: str
    names: Sequence[str]
    batch: Any  # InputBatch
    prediction: Any  # Prediction
    classes: list[Any] | None
    latency_ms: float
    shadow_version: str | None = None
    shadow_prediction: Any = None
    shadow_agreement: float | None = None
    shadow_error: str | None = None
    shadow_latency_ms: float | None = None
    entities: list[dict[str, Any]] | None = None
    feature_ages: dict[str, list[float | None]] | None = None


@dataclass(slots=True)
class FeedbackRecord:
    """A ground-truth label for a logged request."""

    request_id: str
    time_ms: int
    endpoint: str
    model_version: str | None
    label: Any
    extra: dict[str, Any] = field(default_factory=dict)


def log_root(context: Context) -> str:
    """The folder (or fsspec URL) of a project's serving logs.

    ``<artifact root>/serving/project=<project>``; for an artifact root on a keel server
    (``http://``, ``https://``), which takes content-addressed objects only, a local
    folder: ``<KEEL_HOME>/serving/project=<project>``.
    """
    root = context.artifact_root.rstrip("/")
    if root.startswith(("http://", "https://")):
        root = str(context.settings.home.absolute())
    return f"{root}/serving/project={context.project}"


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _tolist(values: Any) -> Any:
    return values.tolist() if hasattr(values, "tolist") else values


class PredictionLog:
    """Asynchronous, bounded writer of prediction and feedback records.

    Args:
        root: the folder (or fsspec URL) of the logs, ``<artifact root>/serving``.
        max_queue: records held before new ones are dropped.
        flush_interval_s: the longest a record waits before it is written.
        flush_records: records that trigger a write.
        on_drop: called with the endpoint of each dropped record.
        on_written: called with (endpoint, count) after each file.
    """

    def __init__(
        self,
        root: str,
        *,
        max_queue: int = 10_000,
        flush_interval_s: float = 1.0,
        flush_records: int = 5_000,
        on_drop: Callable[[str], None] | None = None,
        on_written: Callable[[str, int], None] | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.flush_interval_s = flush_interval_s
        self.flush_records = flush_records
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._on_drop = on_drop
        self._on_written = on_written
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.dropped = 0
        self.errors = 0
        self.last_error: str | None = None

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="keel-prediction-log", daemon=True
            )
            self._thread.start()

    def append(self, record: LogRecord | FeedbackRecord) -> bool:
        """Queue a record; ``False`` (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(record)
            return True
        except queue.Full:
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop(record.endpoint)
            return False

    def flush(self, timeout: float = 30.0) -> None:
        """Write everything queued so far (blocks until written)."""
        if self._thread is None:
            return
        done = threading.Event()
        self._queue.put(done, timeout=timeout)
        done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        self._thread = None

    # -- the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        pending: list[Any] = []
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._write(pending)
                return
            if isinstance(item, threading.Event):
                self._write(pending)
                pending = []
                item.set()
            elif item is not None:
                pending.append(item)
            if len(pending) >= self.flush_records or time.monotonic() >= deadline:
                self._write(pending)
                pending = []
                deadline = time.monotonic() + self.flush_interval_s

    def _write(self, records: list[Any]) -> None:
        if not records:
            return
        groups: dict[tuple[str, str, str], list[Any]] = {}
        for rec in records:
            kind = "predictions" if isinstance(rec, LogRecord) else "feedback"
            day = dt.datetime.fromtimestamp(rec.time_ms / 1000, dt.UTC).date().isoformat()
            groups.setdefault((kind, rec.endpoint, day), []).append(rec)
        for (kind, endpoint, day), recs in groups.items():
            try:
                table = _prediction_table(recs) if kind == "predictions" else _feedback_table(recs)
                self._write_table(table, f"{self.root}/{kind}/endpoint={endpoint}/date={day}")
                if self._on_written is not None and kind == "predictions":
                    self._on_written(endpoint, len(recs))
            except Exception as exc:  # a log failure never reaches a request
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"

    def _write_table(self, table: Any, folder: str) -> None:
        import fsspec.core
        import pyarrow.parquet as pq

        self._seq += 1
        name = f"part-{int(time.time() * 1000)}-{os.getpid()}-{self._seq:06d}.parquet"
        fs, base = fsspec.core.url_to_fs(folder)
        protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        if "file" in protocol:
            Path(base).mkdir(parents=True, exist_ok=True)
            tmp = Path(base) / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
            pq.write_table(table, tmp)
            tmp.replace(Path(base) / name)  # readers never see half a file
        else:
            with fs.open(f"{base}/{name}", "wb") as out:
                pq.write_table(table, out)


def _prediction_table(records: list[LogRecord]) -> Any:
    import pyarrow as pa

    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "request_id",
            "time",
            "model_version",
            "route",
            "rows",
            "inputs",
            "outputs",
            "probabilities",
            "latency_ms",
            "shadow_version",
            "shadow_outputs",
            "shadow_agreement",
            "shadow_error",
            "shadow_latency_ms",
            "entities",
            "feature_ages",
        )
    }
    for r in records:
        columns["request_id"].append(r.request_id)
        columns["time"].append(r.time_ms)
        columns["model_version"].append(r.model_version)
        columns["route"].append(r.route)
        columns["rows"].append(r.batch.rows)
        columns["inputs"].append(_json(r.batch.to_records(r.names)))
        columns["outputs"].append(_json(_tolist(r.prediction.labels)))
        proba = r.prediction.proba
        columns["probabilities"].append(None if proba is None else _json(_tolist(proba)))
        columns["latency_ms"].append(r.latency_ms)
        columns["shadow_version"].append(r.shadow_version)
        columns["shadow_outputs"].append(
            None if r.shadow_prediction is None else _json(_tolist(r.shadow_prediction.labels))
        )
        columns["shadow_agreement"].append(r.shadow_agreement)
        columns["shadow_error"].append(r.shadow_error)
        columns["shadow_latency_ms"].append(r.shadow_latency_ms)
        columns["entities"].append(None if r.entities is None else _json(r.entities))
        columns["feature_ages"].append(None if r.feature_ages is None else _json(r.feature_ages))
    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("time", pa.timestamp("ms", tz="UTC")),
            ("model_version", pa.string()),
            ("route", pa.string()),
            ("rows", pa.int32()),
            ("inputs", pa.string()),
            ("outputs", pa.string()),
            ("probabilities", pa.string()),
            ("latency_ms", pa.float64()),
            ("shadow_version", pa.string()),
            ("shadow_outputs", pa.string()),
            ("shadow_agreement", pa.float64()),
            ("shadow_error", pa.string()),
            ("shadow_latency_ms", pa.float64()),
            ("entities", pa.string()),
            ("feature_ages", pa.string()),
        ]
    )
    return pa.table(columns, schema=schema)


def _feedback_table(records: list[FeedbackRecord]) -> Any:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("time", pa.timestamp("ms", tz="UTC")),
            ("model_version", pa.string()),
            ("label", pa.string()),
        ]
    )
    return pa.table(
        {
            "request_id": [r.request_id for r in records],
            "time": [r.time_ms for r in records],
            "model_version": [r.model_version for r in records],
            "label": [_json(r.label) for r in records],
        },
        schema=schema,
    )


# -- reading ------------------------------------------------------------------------


def _since_ms(since: str | int | dt.datetime | dt.timedelta | None) -> int | None:
    if since is None:
        return None
    if isinstance(since, dt.timedelta):
        return int((dt.datetime.now(dt.UTC) - since).timestamp() * 1000)
    if isinstance(since, dt.datetime):
        when = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        return int(when.timestamp() * 1000)
    if isinstance(since, int):
        return since
    from keel.governance import parse_since

    return parse_since(since)


def _root(root: str | None, context: Context | None) -> str:
    if root is not None:
        return root.rstrip("/")
    if context is None:
        from keel.context import current_context

        context = current_context()
    return log_root(context)


def _read(
    kind: str,
    endpoint: str | None,
    since: str | int | dt.datetime | dt.timedelta | None,
    root: str | None,
    context: Context | None,
    where: Iterable[str] = (),
    params: Sequence[Any] = (),
) -> Any:
    import duckdb
    import pandas as pd

    base = _root(root, context)
    folder = f"{base}/{kind}" + (f"/endpoint={endpoint}" if endpoint else "")
    if "://" not in folder and not any(Path(folder).glob("**/*.parquet")):
        return pd.DataFrame()
    conditions = list(where)
    args: list[Any] = list(params)
    start = _since_ms(since)
    if start is not None:
        conditions.append("epoch_ms(time) >= ?")
        args.append(start)
    sql = (
        "SELECT * FROM read_parquet(?, hive_partitioning=true, union_by_name=true)"  # noqa: S608 - conditions are fixed text, values are parameters
        + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
        + " ORDER BY time"
    )
    con = duckdb.connect()
    try:
        frame = con.execute(sql, [f"{folder}/**/*.parquet", *args]).df()
    finally:
        con.close()
    if endpoint and "endpoint" not in frame.columns:
        frame.insert(0, "endpoint", endpoint)
    return frame


def read_prediction_log(
    endpoint: str | None = None,
    *,
    since: str | int | dt.datetime | dt.timedelta | None = None,
    root: str | None = None,
    context: Context | None = None,
) -> Any:
    """The logged predictions (a DataFrame), oldest first.

    Args:
        endpoint: one endpoint's log, or every endpoint's.
        since: ``"1h"``, ``"30m"``, ``"7d"``, an ISO date, a datetime or a timedelta.
        root: the serving log folder (default: :func:`log_root` of the context).
        context: whose project and artifact root (:func:`keel.context.current_context`
            by default).

    Example::

        >>> keel.serving.read_prediction_log("iris", since="1h")[["request_id", "outputs"]]
    """
    return _read("predictions", endpoint, since, root, context)


def read_feedback(
    endpoint: str | None = None,
    *,
    since: str | int | dt.datetime | dt.timedelta | None = None,
    root: str | None = None,
    context: Context | None = None,
) -> Any:
    """The feedback (ground-truth labels by request id) received, oldest first (the
    arguments are :func:`read_prediction_log`'s)."""
    return _read("feedback", endpoint, since, root, context)


def logged_request_ids(root: str, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Which of ``ids`` are in the prediction log on disk: id -> (endpoint, model version)."""
    if not ids:
        return {}
    frame = _read(
        "predictions",
        None,
        None,
        root,
        None,
        where=[f"request_id IN ({', '.join('?' for _ in ids)})"],
        params=list(ids),
    )
    if frame.empty:
        return {}
    return {
        str(r.request_id): (str(r.endpoint), str(r.model_version))
        for r in frame[["request_id", "endpoint", "model_version"]].itertuples()
    }
