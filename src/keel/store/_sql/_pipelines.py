"""Pipelines on SQL: pipeline runs, step runs and the step cache index."""

from __future__ import annotations

import difflib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import InvalidArgumentError, NotFoundError, RunStateError
from keel.store._pipelines import (
    PipelineRun,
    PipelineRunStatus,
    PipelineStore,
    StepInput,
    StepOutput,
    StepRun,
    StepStatus,
)
from keel.store._sql._database import Database
from keel.store._sql._objects import add_objects
from keel.store._sql._pipelines_rows import pipeline_runs as _runs, step_runs as _steps

__all__ = ["SqlPipelineStore"]


_MAX_NAME = 256
_MAX_RESULTS = 10_000
# Logs are kept whole up to this size; longer logs keep their head and tail.
_MAX_LOG_CHARS = 1_000_000


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME or "\x00" in name:
        raise InvalidArgumentError(
            f"{kind} name {name!r} is invalid: use 1-{_MAX_NAME} characters without NUL bytes"
        )


def _clip_logs(logs: str) -> str:
    if len(logs) <= _MAX_LOG_CHARS:
        return logs
    half = _MAX_LOG_CHARS // 2
    cut = len(logs) - 2 * half
    return f"{logs[:half]}\n... [{cut} characters cut] ...\n{logs[-half:]}"


# Outputs kept as bytes in the artifact store name their object (sha256) in ``ref``.
_BYTES_KINDS = frozenset({"json", "npy", "pickle"})


def _output_objects(outputs: Sequence[StepOutput]) -> list[str]:
    """The content-addressed objects step outputs reference (for ``project_objects``)."""
    shas = [o.ref for o in outputs if o.kind in _BYTES_KINDS]
    # A dataset output's bytes are its version's Parquet file, addressed by content hash.
    shas += [o.content_hash for o in outputs if o.kind == "dataset"]
    return shas


def _step_from_row(row: Any) -> StepRun:
    return StepRun(
        id=row.id,
        pipeline_run_id=row.pipeline_run_id,
        name=row.name,
        status=StepStatus(row.status),
        position=row.position,
        upstream=tuple(json.loads(row.upstream)),
        cache_key=row.cache_key,
        code_hash=row.code_hash,
        params=json.loads(row.params),
        inputs=tuple(StepInput.from_dict(d) for d in json.loads(row.inputs)),
        outputs=tuple(StepOutput.from_dict(d) for d in json.loads(row.outputs)),
        start_time=row.start_time,
        end_time=row.end_time,
        attempts=row.attempts,
        logs=row.logs,
        error=row.error,
        traceback=row.traceback,
        cached_from=row.cached_from,
    )


def _run_from_row(row: Any, steps: Sequence[StepRun]) -> PipelineRun:
    return PipelineRun(
        id=row.id,
        pipeline_name=row.pipeline_name,
        status=PipelineRunStatus(row.status),
        params=json.loads(row.params),
        user=row.user,
        executor=row.executor,
        start_time=row.start_time,
        end_time=row.end_time,
        steps=tuple(sorted(steps, key=lambda s: s.position)),
    )


class SqlPipelineStore(PipelineStore):
    """:class:`PipelineStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    # -- pipeline runs ------------------------------------------------------------------

    def create_pipeline_run(
        self,
        pipeline_name: str,
        steps: Sequence[tuple[str, Sequence[str]]],
        params: Mapping[str, Any] | None = None,
        user: str = "unknown",
        executor: str = "",
    ) -> PipelineRun:
        _check_name("pipeline", pipeline_name)
        if not steps:
            raise InvalidArgumentError(
                f"pipeline {pipeline_name!r} has no steps; a run needs at least one"
            )
        names = [name for name, _ in steps]
        for name in names:
            _check_name("step", name)
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidArgumentError(
                f"pipeline {pipeline_name!r} names steps more than once: {', '.join(dupes)}"
            )
        try:
            params_text = json.dumps(dict(params or {}), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"pipeline run params must be JSON values; got {params!r} ({exc})"
            ) from None
        run_id = uuid.uuid4().hex
        now = now_ms()
        step_rows = [
            {
                "id": uuid.uuid4().hex,
                "project": self._project,
                "pipeline_run_id": run_id,
                "name": name,
                "status": StepStatus.PENDING.value,
                "position": i,
                "upstream": json.dumps(list(upstream)),
                "cache_key": None,
                "code_hash": None,
                "params": "{}",
                "inputs": "[]",
                "outputs": "[]",
                "start_time": None,
                "end_time": None,
                "attempts": 0,
                "logs": "",
                "error": None,
                "traceback": None,
                "cached_from": None,
            }
            for i, (name, upstream) in enumerate(steps)
        ]
        with self._db.write() as conn:
            conn.execute(
                _runs.insert(),
                {
                    "id": run_id,
                    "project": self._project,
                    "pipeline_name": pipeline_name,
                    "status": PipelineRunStatus.RUNNING.value,
                    "params": params_text,
                    "user": user,
                    "executor": executor,
                    "start_time": now,
                    "end_time": None,
                },
            )
            conn.execute(_steps.insert(), step_rows)
            return self._get_run(conn, run_id)

    def _get_run(self, conn: Connection, run_id: str) -> PipelineRun:
        row = conn.execute(
            sa.select(_runs).where(_runs.c.id == run_id, _runs.c.project == self._project)
        ).first()
        if row is None:
            raise NotFoundError(
                f"pipeline run {run_id!r} does not exist; list runs with: keel pipelines list"
            )
        steps = conn.execute(sa.select(_steps).where(_steps.c.pipeline_run_id == run_id)).all()
        return _run_from_row(row, [_step_from_row(s) for s in steps])

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        with self._db.read() as conn:
            return self._get_run(conn, run_id)

    def resolve_pipeline_run_id(self, prefix: str) -> str:
        if not isinstance(prefix, str) or not prefix.strip():
            raise InvalidArgumentError(
                f"pipeline run id {prefix!r} is empty; list runs with: keel pipelines list"
            )
        prefix = prefix.strip().lower()
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._db.read() as conn:
            ids = (
                conn.execute(
                    sa.select(_runs.c.id)
                    .where(
                        _runs.c.project == self._project,
                        _runs.c.id.like(f"{escaped}%", escape="\\"),
                    )
                    .limit(5)
                )
                .scalars()
                .all()
            )
            if len(ids) == 1:
                return str(ids[0])
            if not ids:
                recent = (
                    conn.execute(
                        sa.select(_runs.c.id)
                        .where(_runs.c.project == self._project)
                        .order_by(_runs.c.start_time.desc())
                        .limit(200)
                    )
                    .scalars()
                    .all()
                )
                near = difflib.get_close_matches(prefix, [str(i) for i in recent], n=3, cutoff=0.3)
                hint = f"; nearest: {', '.join(near)}" if near else ""
                raise NotFoundError(
                    f"no pipeline run id starts with {prefix!r}{hint}; "
                    "list runs with: keel pipelines list"
                )
        raise NotFoundError(
            f"pipeline run id prefix {prefix!r} is ambiguous ({', '.join(ids)}, ...); "
            "give more characters"
        )

    def list_pipeline_runs(
        self, pipeline_name: str | None = None, max_results: int = 100
    ) -> list[PipelineRun]:
        if not isinstance(max_results, int) or not 1 <= max_results <= _MAX_RESULTS:
            raise InvalidArgumentError(
                f"max_results must be an integer in 1-{_MAX_RESULTS}; got {max_results!r}"
            )
        query = (
            sa.select(_runs)
            .where(_runs.c.project == self._project)
            .order_by(_runs.c.start_time.desc(), _runs.c.id.desc())
        )
        if pipeline_name is not None:
            query = query.where(_runs.c.pipeline_name == pipeline_name)
        with self._db.read() as conn:
            rows = conn.execute(query.limit(max_results)).all()
            by_run: dict[str, list[StepRun]] = {r.id: [] for r in rows}
            ids = list(by_run)
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                for s in conn.execute(sa.select(_steps).where(_steps.c.pipeline_run_id.in_(chunk))):
                    by_run[s.pipeline_run_id].append(_step_from_row(s))
        return [_run_from_row(r, by_run[r.id]) for r in rows]

    def end_pipeline_run(
        self, run_id: str, status: PipelineRunStatus, end_time: int | None = None
    ) -> PipelineRun:
        status = PipelineRunStatus(status)
        if not status.is_terminal:
            raise InvalidArgumentError(
                f"cannot end pipeline run {run_id} with status {status}; use FINISHED or FAILED"
            )
        with self._db.write() as conn:
            run = self._get_run(conn, run_id)
            if run.status.is_terminal:
                raise RunStateError(f"pipeline run {run_id} already ended with status {run.status}")
            conn.execute(
                _runs.update()
                .where(_runs.c.id == run_id)
                .values(status=status.value, end_time=end_time or now_ms())
            )
            return self._get_run(conn, run_id)

    # -- step runs ----------------------------------------------------------------------

    def _get_step(self, conn: Connection, step_run_id: str) -> StepRun:
        row = conn.execute(
            sa.select(_steps).where(_steps.c.id == step_run_id, _steps.c.project == self._project)
        ).first()
        if row is None:
            raise NotFoundError(
                f"step run {step_run_id!r} does not exist; see a run's steps with: "
                "keel pipelines show RUN_ID"
            )
        return _step_from_row(row)

    def get_step_run(self, step_run_id: str) -> StepRun:
        with self._db.read() as conn:
            return self._get_step(conn, step_run_id)

    def start_step_run(
        self,
        step_run_id: str,
        cache_key: str,
        code_hash: str,
        params: Mapping[str, Any],
        inputs: Sequence[StepInput],
        start_time: int | None = None,
    ) -> StepRun:
        try:
            params_text = json.dumps(dict(params), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"step params must be JSON values; got {params!r} ({exc})"
            ) from None
        with self._db.write() as conn:
            step = self._get_step(conn, step_run_id)
            if step.status is not StepStatus.PENDING:
                raise RunStateError(
                    f"step run {step_run_id} ({step.name}) is {step.status}; only a PENDING "
                    "step run can start"
                )
            conn.execute(
                _steps.update()
                .where(_steps.c.id == step_run_id)
                .values(
                    status=StepStatus.RUNNING.value,
                    cache_key=cache_key,
                    code_hash=code_hash,
                    params=params_text,
                    inputs=_dumps([i.to_dict() for i in inputs]),
                    start_time=start_time or now_ms(),
                )
            )
            return self._get_step(conn, step_run_id)

    def finish_step_run(
        self,
        step_run_id: str,
        status: StepStatus,
        outputs: Sequence[StepOutput] = (),
        *,
        logs: str = "",
        error: str | None = None,
        traceback: str | None = None,
        attempts: int = 0,
        cached_from: str | None = None,
        end_time: int | None = None,
    ) -> StepRun:
        status = StepStatus(status)
        if not status.is_terminal:
            raise InvalidArgumentError(
                f"cannot finish step run {step_run_id} with status {status}; use one of "
                "FINISHED, CACHED, FAILED, UPSTREAM_FAILED"
            )
        if status is StepStatus.CACHED and not cached_from:
            raise InvalidArgumentError(
                f"step run {step_run_id}: a CACHED step run needs cached_from (the step run "
                "whose outputs it reuses)"
            )
        with self._db.write() as conn:
            step = self._get_step(conn, step_run_id)
            if step.status.is_terminal:
                raise RunStateError(
                    f"step run {step_run_id} ({step.name}) already ended with status {step.status}"
                )
            now = end_time or now_ms()
            conn.execute(
                _steps.update()
                .where(_steps.c.id == step_run_id)
                .values(
                    status=status.value,
                    outputs=_dumps([o.to_dict() for o in outputs]),
                    logs=_clip_logs(logs),
                    error=error,
                    traceback=traceback,
                    attempts=attempts,
                    cached_from=cached_from,
                    start_time=step.start_time if step.start_time is not None else now,
                    end_time=now,
                )
            )
            add_objects(conn, self._project, _output_objects(outputs))
            return self._get_step(conn, step_run_id)

    def find_cached_step_run(self, cache_key: str) -> StepRun | None:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_steps)
                .where(
                    _steps.c.project == self._project,
                    _steps.c.cache_key == cache_key,
                    _steps.c.status == StepStatus.FINISHED.value,
                )
                .order_by(_steps.c.end_time.desc())
                .limit(1)
            ).first()
        return None if row is None else _step_from_row(row)
