"""The orchestrator: walks a pipeline's DAG, consults the cache, submits steps.

It runs in the calling process and does every metadata write itself (step runs,
lineage), as each thing happens; workers only run functions and store output bytes.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import traceback as tb
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.context import Context, ContextSpec, current_context, use_context
from keel.errors import InvalidArgumentError, KeelError
from keel.store import (
    LineageEdge,
    LineageNode,
    PipelineRun,
    PipelineRunStatus,
    StepInput,
    StepOutput,
    StepRun,
    StepStatus,
)

if TYPE_CHECKING:
    from keel.compute import Executor
    from keel.pipelines._pipeline import Pipeline
    from keel.pipelines._worker import StepResult, StepTask

__all__ = ["PipelineFailedError", "StepEvent", "run_pipeline"]

# Bump when the way outputs are stored changes, so old cache entries are not reused.
_CACHE_FORMAT = 1


class PipelineFailedError(KeelError):
    """A pipeline run ended with failed steps; ``.run`` holds the recorded run."""

    code = "PIPELINE_FAILED"
    http_status = 422

    def __init__(self, message: str, run: PipelineRun | None = None) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A step changed status (for progress displays)."""

    pipeline_run_id: str
    step: StepRun


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def step_run_node(pipeline_name: str, step: StepRun) -> LineageNode:
    """The lineage node of a step run."""
    return LineageNode("step_run", step.id, f"{pipeline_name}.{step.name}")


def output_node(out: StepOutput) -> LineageNode | None:
    """The lineage node of a stored output (``None`` for a ``None`` output)."""
    if out.kind == "none":
        return None
    if out.kind == "dataset":
        return LineageNode("dataset_version", out.ref, out.label)
    return LineageNode("artifact", out.ref, f"{out.label}.{out.kind}")


def _failure_status(run: PipelineRun) -> str:
    failed = [s for s in run.steps if s.status is StepStatus.FAILED]
    skipped = [s.name for s in run.steps if s.status is StepStatus.UPSTREAM_FAILED]
    parts = [f"step {s.name!r} failed: {s.error}" for s in failed]
    if skipped:
        parts.append(f"not run because an upstream step failed: {', '.join(skipped)}")
    return (
        f"pipeline {run.pipeline_name!r} run {run.id} failed; "
        + "; ".join(parts)
        + f". See the tracebacks and logs with: keel pipelines show {run.id[:12]} --logs"
    )


class _Orchestrator:
    def __init__(
        self,
        pipeline: Pipeline,
        params: dict[str, Any],
        executor: Executor,
        context: Context,
        on_event: Callable[[StepEvent], None] | None,
    ) -> None:
        self.pipeline = pipeline
        self.params = params
        self.executor = executor
        self.context = context
        self.store = context.store
        self.on_event = on_event
        self.steps: dict[str, StepRun] = {}
        self.futures: dict[cf.Future[StepResult], str] = {}

    # -- bookkeeping --------------------------------------------------------------------

    def _emit(self, step: StepRun) -> None:
        self.steps[step.name] = step
        if self.on_event is not None:
            self.on_event(StepEvent(step.pipeline_run_id, step))

    def _edges(self, edges: list[LineageEdge]) -> None:
        if edges:
            self.store.lineage.add_edges(edges)

    def _cache_key(self, name: str, params_json: Mapping[str, Any], inputs: list[StepInput]) -> str:
        s = self.pipeline.step(name)
        source_params = {i.name for i in inputs if i.kind == "source_file"}
        key = {
            "format": _CACHE_FORMAT,
            "step": name,
            "code": s.code_hash,
            "version": s.version,
            "outputs": list(s.outputs),
            "allow_pickle": s.allow_pickle,
            # a source file's path is not in the key, its content is (via inputs)
            "params": {k: v for k, v in params_json.items() if k not in source_params},
            "inputs": {i.name: i.content_hash for i in inputs},
        }
        text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _inputs(
        self, name: str, source_files: Mapping[str, Path]
    ) -> tuple[list[StepInput], dict[str, Any]]:
        from keel.pipelines._values import content_hash_of
        from keel.pipelines._worker import InputRef

        inputs: list[StepInput] = []
        refs: dict[str, Any] = {}
        for dep in self.pipeline.dependencies(name):
            upstream = self.steps[dep.step]
            if dep.output is None and self.pipeline.step(dep.step).outputs:
                outs = list(upstream.outputs)
                inputs.append(StepInput(dep.param, "step_output", dep.step, content_hash_of(outs)))
                refs[dep.param] = InputRef(tuple(outs), whole_step=True)
            else:
                out = upstream.output(dep.output or "return")
                ref = f"{dep.step}.{out.name}"
                inputs.append(StepInput(dep.param, "step_output", ref, out.content_hash, out))
                refs[dep.param] = InputRef((out,), whole_step=False)
        for param, path in source_files.items():
            inputs.append(StepInput(param, "source_file", path.as_uri(), _sha256_file(path)))
        return inputs, refs

    def _input_edges(self, step: StepRun, inputs: list[StepInput]) -> list[LineageEdge]:
        target = step_run_node(self.pipeline.name, step)
        edges = []
        for i in inputs:
            if i.kind == "source_file":
                label = i.ref.rsplit("/", 1)[-1]
                edges.append(LineageEdge(LineageNode("source", i.ref, label), target, "input"))
            elif i.output is not None:
                node = output_node(i.output)
                if node is not None:
                    edges.append(LineageEdge(node, target, "input"))
            else:
                for out in self.steps[i.ref].outputs:
                    node = output_node(out)
                    if node is not None:
                        edges.append(LineageEdge(node, target, "input"))
        return edges

    def _output_edges(self, step: StepRun) -> list[LineageEdge]:
        source = step_run_node(self.pipeline.name, step)
        nodes = [output_node(o) for o in step.outputs]
        return [LineageEdge(source, n, "output") for n in nodes if n is not None]

    # -- the loop -----------------------------------------------------------------------

    def _fail_downstream(self, failed: str) -> None:
        dag = self.pipeline.dag
        pending = [failed]
        while pending:
            current = pending.pop()
            for name, ups in dag.items():
                if current in ups and self.steps[name].status is StepStatus.PENDING:
                    step = self.store.pipelines.finish_step_run(
                        self.steps[name].id,
                        StepStatus.UPSTREAM_FAILED,
                        error=f"not run: upstream step {current!r} "
                        + ("failed" if current == failed else "did not run"),
                    )
                    self._emit(step)
                    pending.append(name)

    def _cached(self, key: str) -> StepRun | None:
        from keel.pipelines._values import output_is_available

        hit = self.store.pipelines.find_cached_step_run(key)
        if hit is None:
            return None
        if not all(output_is_available(o, self.context) for o in hit.outputs):
            return None
        return hit

    def _start(self, name: str, resolved: Any, spec: ContextSpec) -> None:
        from keel.pipelines._worker import StepTask

        s = self.pipeline.step(name)
        pending = self.steps[name]
        params_json = resolved.json[name]
        inputs, refs = self._inputs(name, resolved.source_files.get(name, {}))
        key = self._cache_key(name, params_json, inputs)
        hit = self._cached(key) if s.cache else None
        running = self.store.pipelines.start_step_run(
            pending.id, key, s.code_hash, params_json, inputs
        )
        self._edges(self._input_edges(running, inputs))
        if hit is not None:
            done = self.store.pipelines.finish_step_run(
                running.id,
                StepStatus.CACHED,
                hit.outputs,
                cached_from=hit.id,
                logs=f"cache hit: outputs reused from step run {hit.id}\n",
            )
            edges = self._output_edges(done)
            edges.append(
                LineageEdge(
                    step_run_node(self.pipeline.name, hit),
                    step_run_node(self.pipeline.name, done),
                    "cached_from",
                )
            )
            self._edges(edges)
            self._emit(done)
            return
        self._emit(running)
        task = StepTask(
            step=s,
            step_run_id=running.id,
            pipeline_name=self.pipeline.name,
            params=resolved.values[name],
            inputs=refs,
            context=spec,
        )
        future = self._submit(task)
        self.futures[future] = name

    def _submit(self, task: StepTask) -> cf.Future[StepResult]:
        from keel.pipelines._worker import run_step

        try:
            return self.executor.submit(run_step, task)
        except Exception as exc:  # e.g. the step cannot be pickled for a worker
            future: cf.Future[StepResult] = cf.Future()
            future.set_exception(exc)
            return future

    def _finish(self, name: str, future: cf.Future[StepResult]) -> None:
        from keel.pipelines._worker import StepResult

        try:
            result = future.result()
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raise
            result = StepResult(
                ok=False,
                error=f"the executor could not run step {name!r}: {type(exc).__name__}: {exc}",
                traceback="".join(tb.format_exception(exc)),
            )
        step = self.store.pipelines.finish_step_run(
            self.steps[name].id,
            StepStatus.FINISHED if result.ok else StepStatus.FAILED,
            result.outputs,
            logs=result.logs,
            error=result.error,
            traceback=result.traceback,
            attempts=result.attempts,
            end_time=result.end_time or None,
        )
        self._edges(self._output_edges(step))
        self._emit(step)
        if not result.ok:
            self._fail_downstream(name)

    def run(self, resolved: Any, raw_params: Mapping[str, Any]) -> PipelineRun:
        pipelines = self.store.pipelines
        run = pipelines.create_pipeline_run(
            self.pipeline.name,
            [(n, self.pipeline.upstream(n)) for n in (s.name for s in self.pipeline.steps)],
            params={
                k: v if isinstance(v, int | float | bool | str) or v is None else str(v)
                for k, v in raw_params.items()
            },
            user=self.context.actor,
            executor=self.executor.name,
        )
        run_node = LineageNode("pipeline_run", run.id, f"{self.pipeline.name}#{run.id[:8]}")
        self._edges(
            [
                LineageEdge(run_node, step_run_node(self.pipeline.name, s), "contains")
                for s in run.steps
            ]
        )
        for s in run.steps:
            self._emit(s)
        spec = self.context.spec()  # how worker processes reach the same stores
        try:
            while True:
                for name in [s.name for s in self.pipeline.steps]:
                    step = self.steps[name]
                    if step.status is StepStatus.PENDING and all(
                        self.steps[u].status.succeeded for u in self.pipeline.upstream(name)
                    ):
                        self._start(name, resolved, spec)
                if not self.futures:
                    break
                done, _ = cf.wait(list(self.futures), return_when=cf.FIRST_COMPLETED)
                for future in done:
                    self._finish(self.futures.pop(future), future)
        except BaseException:
            self._abort("the pipeline run was interrupted")
            raise
        ok = all(s.status.succeeded for s in self.steps.values())
        pipelines.end_pipeline_run(
            run.id, PipelineRunStatus.FINISHED if ok else PipelineRunStatus.FAILED
        )
        return pipelines.get_pipeline_run(run.id)

    def _abort(self, reason: str) -> None:
        for future in self.futures:
            future.cancel()
        run_id = next(iter(self.steps.values())).pipeline_run_id if self.steps else None
        for step in list(self.steps.values()):
            if not step.status.is_terminal:
                with contextlib.suppress(KeelError):
                    self._emit(
                        self.store.pipelines.finish_step_run(
                            step.id, StepStatus.FAILED, error=reason
                        )
                    )
        if run_id is not None:
            with contextlib.suppress(KeelError):
                self.store.pipelines.end_pipeline_run(run_id, PipelineRunStatus.FAILED)


def run_pipeline(
    pipeline: Pipeline,
    params: dict[str, Any],
    *,
    executor: str | Executor = "sequential",
    max_workers: int | None = None,
    context: Context | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
    raise_on_failure: bool = True,
) -> PipelineRun:
    """Run a pipeline (see :meth:`keel.Pipeline.run`)."""
    from keel.compute import Executor, executor_for
    from keel.pipelines._params import resolve_params

    if not isinstance(params, Mapping):
        raise InvalidArgumentError(f"params must be a mapping of name -> value; got {params!r}")
    resolved = resolve_params(pipeline.param_specs(), params, [s.name for s in pipeline.steps])
    own_executor = not isinstance(executor, Executor)
    ex = executor_for(executor, max_workers) if isinstance(executor, str) else executor
    if not isinstance(ex, Executor):
        raise InvalidArgumentError(
            f"executor must be 'sequential', 'process' or a keel.compute.Executor; got {executor!r}"
        )
    if ex.name != "sequential":
        local = [s.name for s in pipeline.steps if not s.importable]
        if local:
            raise InvalidArgumentError(
                f"steps {', '.join(local)} are defined inside a function, so worker processes "
                "cannot import them; define them at module level, or use executor='sequential'"
            )
    ctx = context or current_context()
    try:
        # current while the steps run, so a step's own keel calls use the same stores
        with use_context(ctx):
            run = _Orchestrator(pipeline, params, ex, ctx, on_event).run(resolved, params)
    finally:
        if own_executor:
            ex.shutdown(wait=True, cancel_futures=True)
    if raise_on_failure and run.status is PipelineRunStatus.FAILED:
        raise PipelineFailedError(_failure_status(run), run)
    return run
