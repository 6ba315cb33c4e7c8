"""Tracking on SQL: experiments, runs, params, tags, metric series and artifact records."""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel._paths import check_artifact_path
from keel._redact import safe_uri
from keel.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    RunStateError,
    StoreError,
)
from keel.store._entities import ArtifactRecord, Experiment, Metric, Run, RunStatus
from keel.store._filter import parse_filter, parse_order_by
from keel.store._interfaces import TrackingStore
from keel.store._sql._database import Database
from keel.store._sql._objects import add_objects
from keel.store._sql._search import explain_no_match, filter_clause, order_clauses
from keel.store._sql._tracking_rows import (
    experiment_tags as _experiment_tags,
    experiments as _experiments,
    latest_metrics as _latest,
    metric_batches as _metric_batches,
    metrics as _metrics,
    run_artifacts as _artifacts,
    run_params as _params,
    run_tags as _tags,
    runs as _runs,
)
from keel.store._tracking import check_key

__all__ = ["SqlTrackingStore", "now_ms"]


# Statements of the hot paths (run creation, logging, ending, loading), built once:
# building a statement and its cache key costs more than running it on SQLite.
# Every run statement names the store's project too: a run of another project is
# "not found" (``run_id`` is the primary key, so the extra condition costs nothing).
_MINE = _runs.c.project == sa.bindparam("project")
_RUN_STATUS = sa.select(_runs.c.status).where(_runs.c.id == sa.bindparam("run_id"), _MINE)
_RUN_BY_ID = sa.select(_runs).where(_runs.c.id == sa.bindparam("run_id"), _MINE)
_INSERT_RUN = _runs.insert()
_INSERT_TAGS = _tags.insert()
_INSERT_PARAMS = _params.insert()
_INSERT_METRICS = _metrics.insert()
_END_RUN = (
    _runs.update()
    .where(
        _runs.c.id == sa.bindparam("b_run_id"),
        _runs.c.project == sa.bindparam("b_project"),
        _runs.c.status == RunStatus.RUNNING.value,
    )
    .values(
        status=sa.bindparam("b_status"),
        end_time=sa.bindparam("b_end_time"),
        error=sa.bindparam("b_error"),
    )
)
_EXISTING_PARAMS = sa.select(_params.c.key, _params.c.value).where(
    _params.c.run_id == sa.bindparam("run_id"),
    _params.c.key.in_(sa.bindparam("keys", expanding=True)),
)
_IDS: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
_PARAMS_OF = sa.select(_params.c.run_id, _params.c.key, _params.c.value).where(
    _params.c.run_id.in_(_IDS)
)
_TAGS_OF = sa.select(_tags.c.run_id, _tags.c.key, _tags.c.value).where(_tags.c.run_id.in_(_IDS))
_LATEST_OF = sa.select(_latest.c.run_id, _latest.c.key, _latest.c.value, _latest.c.is_nan).where(
    _latest.c.run_id.in_(_IDS)
)

_MAX_NAME = 256
_CHUNK = 500
_MAX_RESULTS = 50_000


_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def _new_id() -> str:
    return uuid.uuid4().hex


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _metric_value(value: float | None, is_nan: bool) -> float:
    if is_nan:
        return math.nan
    assert value is not None
    return float(value)


# A metric row as a tuple in this column order (tuples are what the DBAPI takes).
_METRIC_COLUMNS = ("run_id", "key", "step", "timestamp", "value", "is_nan")
_MetricRow = tuple[str, str, int, int, float | None, bool]


def _metric_rows(
    run_id: str, metrics: Sequence[Metric]
) -> tuple[list[_MetricRow], dict[str, _MetricRow]]:
    """Rows for the metrics table, and the newest row of each key (keys checked)."""
    metric_rows: list[_MetricRow] = []
    latest: dict[str, _MetricRow] = {}
    for m in metrics:
        value = float(m.value)
        nan = math.isnan(value)
        row = (run_id, m.key, int(m.step), int(m.timestamp), None if nan else value, nan)
        metric_rows.append(row)
        best = latest.get(m.key)
        if best is None or (row[2], row[3]) >= (best[2], best[3]):
            latest[m.key] = row
    for key in latest:
        check_key("metric", key)
    return metric_rows, latest


def _as_dicts(rows: Iterable[_MetricRow]) -> list[dict[str, Any]]:
    return [dict(zip(_METRIC_COLUMNS, row, strict=True)) for row in rows]


class SqlTrackingStore(TrackingStore):
    """:class:`TrackingStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    @contextlib.contextmanager
    def _unavailable_as_store_error(self) -> Iterator[None]:
        # A lost or refused connection, a locked or read-only database: the store
        # could not do it now, which callers (the metric buffer) retry later. The
        # driver's first line only: its full text repeats the SQL and every value.
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            lines = str(exc.orig or exc).strip().splitlines() or [type(exc).__name__]
            raise StoreError(
                f"the metadata store {safe_uri(self._db.uri)} is unavailable: "
                f"{lines[0].strip()[:300]}"
            ) from exc

    # -- dialect helpers ----------------------------------------------------------

    @functools.cached_property
    def _upsert_tags(self) -> Any:
        stmt = self._db.insert(_tags)
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
        )

    @functools.cached_property
    def _upsert_latest(self) -> Any:
        # A value replaces the latest one only if its (step, timestamp) is not older.
        stmt = self._db.insert(_latest)
        newer = sa.or_(
            stmt.excluded.step > _latest.c.step,
            sa.and_(
                stmt.excluded.step == _latest.c.step,
                stmt.excluded.timestamp >= _latest.c.timestamp,
            ),
        )
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "step": stmt.excluded.step,
                "timestamp": stmt.excluded.timestamp,
                "value": stmt.excluded.value,
                "is_nan": stmt.excluded.is_nan,
            },
            where=newer,
        )

    # -- experiments --------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
            raise InvalidArgumentError(
                f"experiment name {name!r} is invalid: use 1-{_MAX_NAME} characters"
            )
        exp = Experiment(id=_new_id(), name=name, created_at=now_ms(), tags=dict(tags or {}))
        try:
            with self._db.write() as conn:
                conn.execute(
                    _experiments.insert(),
                    {
                        "id": exp.id,
                        "name": exp.name,
                        "created_at": exp.created_at,
                        "project": self._project,
                    },
                )
                if exp.tags:
                    conn.execute(
                        _experiment_tags.insert(),
                        [
                            {"experiment_id": exp.id, "key": k, "value": str(v)}
                            for k, v in exp.tags.items()
                        ],
                    )
        except sa.exc.IntegrityError:
            raise ConflictError(
                f"experiment {name!r} already exists; use it, or pick another name"
            ) from None
        return exp

    def _experiment_from_row(self, conn: Connection, row: Any) -> Experiment:
        tags = dict(
            conn.execute(
                sa.select(_experiment_tags.c.key, _experiment_tags.c.value).where(
                    _experiment_tags.c.experiment_id == row.id
                )
            ).all()
        )
        return Experiment(id=row.id, name=row.name, created_at=row.created_at, tags=tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_experiments).where(
                    _experiments.c.id == experiment_id, _experiments.c.project == self._project
                )
            ).first()
            if row is None:
                raise NotFoundError(f"experiment id {experiment_id!r} does not exist")
            return self._experiment_from_row(conn, row)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_experiments).where(
                    _experiments.c.name == name, _experiments.c.project == self._project
                )
            ).first()
            return None if row is None else self._experiment_from_row(conn, row)

    def get_or_create_experiment(self, name: str) -> Experiment:
        found = self.get_experiment_by_name(name)
        if found is not None:
            return found
        try:
            return self.create_experiment(name)
        except ConflictError:
            # Another process created it between our read and write.
            found = self.get_experiment_by_name(name)
            assert found is not None
            return found

    def list_experiments(self) -> list[Experiment]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_experiments)
                .where(_experiments.c.project == self._project)
                .order_by(_experiments.c.created_at)
            ).all()
            return [self._experiment_from_row(conn, row) for row in rows]

    # -- runs ---------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        user: str = "unknown",
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> Run:
        if run_id is None:
            run_id = _new_id()
        elif not _RUN_ID.match(run_id):
            raise InvalidArgumentError(
                f"run id {run_id[:40]!r} is not 32 lowercase hex digits (a uuid4 hex)"
            )
        # A run id given by the caller may exist already (a retry whose answer was lost):
        # the insert then fails on the primary key and the existing run is returned
        # below, with no read before every insert.
        name = name or f"run-{run_id[:8]}"
        if len(name) > _MAX_NAME:
            raise InvalidArgumentError(
                f"run name is {len(name)} characters; the limit is {_MAX_NAME}"
            )
        tags = {k: str(v) for k, v in (tags or {}).items()}
        for key in tags:
            check_key("tag", key)
        start = start_time if start_time is not None else now_ms()
        try:
            with self._db.write() as conn:
                # The experiment (and the parent run) must be this project's: the
                # foreign keys alone would accept another project's.
                self._require_experiment(conn, experiment_id)
                if parent_run_id is not None:
                    found = conn.execute(
                        _RUN_STATUS, {"run_id": parent_run_id, "project": self._project}
                    ).first()
                    if found is None:
                        raise NotFoundError(
                            f"cannot create a run: parent run {parent_run_id!r} does not exist"
                        )
                conn.execute(
                    _INSERT_RUN,
                    {
                        "id": run_id,
                        "project": self._project,
                        "experiment_id": experiment_id,
                        "name": name,
                        "status": RunStatus.RUNNING.value,
                        "start_time": start,
                        "end_time": None,
                        "parent_run_id": parent_run_id,
                        "user": user,
                        "error": None,
                    },
                )
                if tags:
                    conn.execute(
                        _INSERT_TAGS,
                        [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                    )
        except sa.exc.IntegrityError:
            existing = self._existing_run(run_id, experiment_id)
            if existing is not None:  # the same run, created by a concurrent retry
                return existing
            what = "parent run" if parent_run_id else "experiment"
            raise NotFoundError(
                f"cannot create a run: {what} {parent_run_id or experiment_id!r} does not exist"
            ) from None
        return Run(
            id=run_id,
            experiment_id=experiment_id,
            name=name,
            status=RunStatus.RUNNING,
            start_time=start,
            end_time=None,
            parent_run_id=parent_run_id,
            user=user,
            error=None,
            params={},
            metrics={},
            tags=tags,
        )

    def _require_experiment(self, conn: Connection, experiment_id: str) -> None:
        found = conn.execute(
            sa.select(_experiments.c.id).where(
                _experiments.c.id == experiment_id, _experiments.c.project == self._project
            )
        ).first()
        if found is None:
            raise NotFoundError(f"cannot create a run: experiment {experiment_id!r} does not exist")

    def _load_runs(self, conn: Connection, rows: Sequence[Any]) -> list[Run]:
        ids = [row.id for row in rows]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        for chunk in _chunks(ids):
            # fetchall() and tuple unpacking: iterating a result row by row through
            # Row attributes was most of the cost of a search returning many runs.
            bound = {"ids": list(chunk)}
            for run_id, key, text in conn.execute(_PARAMS_OF, bound).fetchall():
                params[run_id][key] = text
            for run_id, key, text in conn.execute(_TAGS_OF, bound).fetchall():
                tags[run_id][key] = text
            for run_id, key, value, is_nan in conn.execute(_LATEST_OF, bound).fetchall():
                metrics[run_id][key] = math.nan if is_nan else float(value)
        return [
            Run(
                id=row.id,
                experiment_id=row.experiment_id,
                name=row.name,
                status=RunStatus(row.status),
                start_time=row.start_time,
                end_time=row.end_time,
                parent_run_id=row.parent_run_id,
                user=row.user,
                error=row.error,
                params=params[row.id],
                metrics=metrics[row.id],
                tags=tags[row.id],
            )
            for row in rows
        ]

    def get_run(self, run_id: str) -> Run:
        with self._db.read() as conn:
            return self._get_run(conn, run_id)

    def _get_run(self, conn: Connection, run_id: str) -> Run:
        row = conn.execute(_RUN_BY_ID, {"run_id": run_id, "project": self._project}).first()
        if row is None:
            raise NotFoundError(self._missing_run_message(conn, run_id))
        return self._load_runs(conn, [row])[0]

    def _missing_run_message(self, conn: Connection, run_id: str) -> str:
        recent = (
            conn.execute(
                sa.select(_runs.c.id)
                .where(_runs.c.project == self._project)
                .order_by(_runs.c.start_time.desc())
                .limit(2000)
            )
            .scalars()
            .all()
        )
        near = difflib.get_close_matches(run_id, recent, n=3, cutoff=0.3)
        hint = f"; nearest: {', '.join(near)}" if near else "; list runs with: keel runs list"
        return f"run {run_id!r} does not exist{hint}"

    def resolve_run_id(self, prefix: str) -> str:
        prefix = prefix.strip().lower()
        if not prefix or not all(c in "0123456789abcdef" for c in prefix):
            with self._db.read() as conn:
                raise NotFoundError(self._missing_run_message(conn, prefix))
        with self._db.read() as conn:
            found = (
                conn.execute(
                    sa.select(_runs.c.id)
                    .where(_runs.c.id.startswith(prefix), _runs.c.project == self._project)
                    .limit(5)
                )
                .scalars()
                .all()
            )
            if len(found) == 1:
                return str(found[0])
            if not found:
                raise NotFoundError(self._missing_run_message(conn, prefix))
        raise NotFoundError(
            f"run id prefix {prefix!r} is ambiguous; it matches {', '.join(found)}; "
            "give more characters"
        )

    def _require_running(self, conn: Connection, run_id: str) -> None:
        status = conn.execute(_RUN_STATUS, {"run_id": run_id, "project": self._project}).scalar()
        if status is None:
            raise NotFoundError(self._missing_run_message(conn, run_id))
        if status != RunStatus.RUNNING.value:
            raise RunStateError(
                f"run {run_id} has ended ({status}) and can no longer change; "
                "start a new run to log more"
            )

    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        end_time: int | None = None,
        error: str | None = None,
        metrics: Sequence[Metric] = (),
    ) -> Run:
        status = RunStatus(status)
        if not status.is_terminal:
            raise InvalidArgumentError("end_run needs a final status: FINISHED, FAILED or KILLED")
        metric_rows, latest = _metric_rows(run_id, metrics)
        with (
            self._unavailable_as_store_error(),
            self._db.write() as conn,
        ):
            # One statement both checks that the run is RUNNING and ends it; only when
            # nothing changed do we look at why (missing run or already ended).
            changed = conn.execute(
                _END_RUN,
                {
                    "b_run_id": run_id,
                    "b_project": self._project,
                    "b_status": status.value,
                    "b_end_time": end_time or now_ms(),
                    "b_error": error,
                },
            ).rowcount
            if changed != 1:
                self._require_running(conn, run_id)
            if metric_rows:
                self._write_metrics(conn, metric_rows, latest)
            # Read back in the same transaction: no second BEGIN/COMMIT.
            return self._get_run(conn, run_id)

    # -- params, tags, metrics -----------------------------------------------------

    def _existing_run(self, run_id: str, experiment_id: str) -> Run | None:
        """The run with this id, if it is this project's and in this experiment.

        Raises:
            ConflictError: the id is taken by another run (or another project's).
        """
        with self._db.read() as conn:
            found = conn.execute(
                sa.select(_runs.c.project, _runs.c.experiment_id).where(_runs.c.id == run_id)
            ).first()
        if found is None:
            return None
        if found.project != self._project or found.experiment_id != experiment_id:
            raise ConflictError(
                f"run id {run_id} is taken; choose another (or leave it out for a new one)"
            )
        return self.get_run(run_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        params = {k: str(v) for k, v in (params or {}).items()}
        tags = {k: str(v) for k, v in (tags or {}).items()}
        for key in params:
            check_key("param", key)
        for key in tags:
            check_key("tag", key)
        metric_rows, latest = _metric_rows(run_id, metrics)
        if batch_id is not None and not 0 < len(batch_id) <= 64:
            raise InvalidArgumentError("batch_id must be 1-64 characters")
        try:
            with (
                self._unavailable_as_store_error(),
                self._db.write() as conn,
            ):
                if batch_id is not None:
                    if self._batch_stored(conn, batch_id, run_id):
                        return
                    conn.execute(
                        _metric_batches.insert(),
                        {"batch_id": batch_id, "run_id": run_id, "created_at": now_ms()},
                    )
                self._write_batch(conn, run_id, metric_rows, latest, params, tags)
        except sa.exc.IntegrityError:
            # A concurrent try of the same batch committed first (PostgreSQL), or the
            # run does not exist (its foreign key): tell the two apart.
            if batch_id is not None:
                with self._db.read() as conn:
                    if self._batch_stored(conn, batch_id, run_id):
                        return
            raise

    def _batch_stored(self, conn: Connection, batch_id: str, run_id: str) -> bool:
        found = conn.execute(
            sa.select(_metric_batches.c.run_id).where(_metric_batches.c.batch_id == batch_id)
        ).first()
        if found is None:
            return False
        if found.run_id != run_id:
            raise ConflictError(
                f"batch id {batch_id[:40]!r} was used for another run; use a new id per batch"
            )
        return True

    def _write_batch(
        self,
        conn: Connection,
        run_id: str,
        metric_rows: list[_MetricRow],
        latest: dict[str, _MetricRow],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        self._require_running(conn, run_id)
        if params:
            self._insert_params(conn, run_id, params)
        if tags:
            conn.execute(
                self._upsert_tags,
                [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
            )
        if metric_rows:
            self._write_metrics(conn, metric_rows, latest)

    def _write_metrics(
        self,
        conn: Connection,
        metric_rows: list[_MetricRow],
        latest: dict[str, _MetricRow],
    ) -> None:
        if self._db.is_sqlite:
            # The bulk of a metric flush: on SQLite, tuples go straight to the driver's
            # executemany (SQLAlchemy's per-row parameter processing doubled the cost).
            conn.exec_driver_sql(self._sqlite_insert_metrics, metric_rows)
        else:
            conn.execute(_INSERT_METRICS, _as_dicts(metric_rows))
        conn.execute(self._upsert_latest, _as_dicts(latest.values()))

    @functools.cached_property
    def _sqlite_insert_metrics(self) -> str:
        # Compiled by SQLAlchemy from the table, so names and quoting stay right.
        from sqlalchemy.dialects import sqlite

        stmt = _metrics.insert().values({c: sa.bindparam(c) for c in _METRIC_COLUMNS})
        return str(stmt.compile(dialect=sqlite.dialect()))

    def _insert_params(self, conn: Connection, run_id: str, params: dict[str, str]) -> None:
        existing = dict(
            conn.execute(_EXISTING_PARAMS, {"run_id": run_id, "keys": list(params)}).all()
        )
        for key, old in existing.items():
            if old != params[key]:
                raise ConflictError(
                    f"param {key!r} of run {run_id} is already {old!r} and cannot change to "
                    f"{params[key]!r}; log the new value under another name or start a new run"
                )
        new = [
            {"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in existing
        ]
        if new:
            conn.execute(_INSERT_PARAMS, new)

    def _is_mine(self, conn: Connection, run_id: str) -> bool:
        found = conn.execute(_RUN_STATUS, {"run_id": run_id, "project": self._project}).first()
        return found is not None

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        with self._db.read() as conn:
            if not self._is_mine(conn, run_id):
                return []
            rows = conn.execute(
                sa.select(
                    _metrics.c.step, _metrics.c.timestamp, _metrics.c.value, _metrics.c.is_nan
                )
                .where(_metrics.c.run_id == run_id, _metrics.c.key == key)
                .order_by(_metrics.c.step, _metrics.c.timestamp, _metrics.c.id)
            ).all()
        return [Metric(key, _metric_value(r.value, r.is_nan), r.step, r.timestamp) for r in rows]

    # -- search -------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
    ) -> list[Run]:
        if not 1 <= max_results <= _MAX_RESULTS:
            raise InvalidArgumentError(
                f"max_results is {max_results}; use a value between 1 and {_MAX_RESULTS}"
            )
        expr = parse_filter(filter_string or "")
        keys = parse_order_by(list(order_by))
        query: sa.Select[Any] = sa.select(_runs).where(
            _runs.c.project == self._project, _runs.c.experiment_id.in_(list(experiment_ids))
        )
        if expr is not None:
            query = query.where(filter_clause(expr))
        query = order_clauses(query, keys).limit(max_results)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            if not rows and expr is not None:
                # Empty because the filter names a key no run has (a typo, mostly)?
                why = explain_no_match(conn, experiment_ids, expr, self._project)
                if why is not None:
                    raise NotFoundError(why)
            return self._load_runs(conn, rows)

    # -- artifacts ----------------------------------------------------------------

    def record_artifact(self, run_id: str, record: ArtifactRecord) -> None:
        check_artifact_path(record.path)
        with self._db.write() as conn:
            self._require_running(conn, run_id)
            stmt = self._db.insert(_artifacts)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "path"],
                    set_={
                        "sha256": stmt.excluded.sha256,
                        "size": stmt.excluded.size,
                        "created_at": stmt.excluded.created_at,
                    },
                ),
                {
                    "run_id": run_id,
                    "path": record.path,
                    "sha256": record.sha256,
                    "size": record.size,
                    "created_at": record.created_at,
                },
            )
            add_objects(conn, self._project, [record.sha256])

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        query = sa.select(_artifacts).where(_artifacts.c.run_id == run_id)
        if prefix:
            query = query.where(_artifacts.c.path.startswith(prefix, autoescape=True))
        with self._db.read() as conn:
            if not self._is_mine(conn, run_id):
                return []
            rows = conn.execute(query.order_by(_artifacts.c.path)).all()
        return [ArtifactRecord(r.path, r.size, r.sha256, r.created_at) for r in rows]
