"""``keel pipelines run|show|list``: run a pipeline with live progress, inspect runs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keel._clock import now_ms

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.tree import Tree

    from keel.store import PipelineRun, StepRun

__all__ = ["pipelines_app", "render_pipeline_run", "render_pipeline_runs"]

pipelines_app = typer.Typer(
    help="Run pipelines of @keel.step functions and inspect their runs.", no_args_is_help=True
)

_STYLE = {
    "PENDING": "dim",
    "RUNNING": "cyan",
    "FINISHED": "green",
    "CACHED": "blue",
    "FAILED": "red",
    "UPSTREAM_FAILED": "yellow",
}
_ICON = {
    "PENDING": "·",
    "RUNNING": "…",
    "FINISHED": "✔",
    "CACHED": "↺",
    "FAILED": "✘",
    "UPSTREAM_FAILED": "⊘",
}


def _console() -> Console:
    from rich.console import Console

    # Bound to the real stdout now: steps run in this process redirect sys.stdout to
    # capture their logs, and the live display must not write into those logs.
    stream = sys.stdout
    width = None if stream.isatty() else 160
    return Console(file=stream, width=width, soft_wrap=False)


def _seconds(ms: int | None) -> str:
    if ms is None:
        return "-"
    s = ms / 1000
    return f"{s:.2f}s" if s < 60 else f"{s / 60:.1f}min"


def _time(ms: int | None) -> str:
    import datetime as dt

    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _outputs_text(step: StepRun) -> str:
    parts = []
    for out in step.outputs:
        if out.kind == "none":
            continue
        what = out.label if out.kind == "dataset" else f"{out.kind} {out.ref[:10]}"
        parts.append(what if out.name == "return" else f"{out.name}={what}")
    return ", ".join(parts)


def _step_line(step: StepRun, now_ms: int | None = None) -> str:
    from rich.markup import escape

    status = step.status.value
    style = _STYLE[status]
    duration = step.duration_ms
    if duration is None and step.start_time is not None and now_ms is not None:
        duration = now_ms - step.start_time
    text = f"[{style}]{_ICON[status]} {escape(step.name)}[/]  [{style}]{status}[/]"
    if step.start_time is not None:
        text += f"  {_seconds(duration)}"
    if step.status.value == "CACHED" and step.cached_from:
        text += f"  [blue]cache hit[/] (from step run {step.cached_from[:8]})"
    if step.attempts > 1:
        text += f"  [yellow]{step.attempts} attempts[/]"
    outputs = _outputs_text(step)
    if outputs:
        text += f"  → {escape(outputs)}"
    if step.error:
        text += f"\n[{style}]{escape(step.error.splitlines()[0] if step.error else '')}[/]"
    return text


def _header(run: PipelineRun) -> str:
    from rich.markup import escape

    style = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red"}[run.status.value]
    counts: dict[str, int] = {}
    for s in run.steps:
        counts[s.status.value] = counts.get(s.status.value, 0) + 1
    summary = ", ".join(f"{n} {k.lower().replace('_', ' ')}" for k, n in counts.items())
    return (
        f"[bold]{escape(run.pipeline_name)}[/]  run {run.id}  [{style}]{run.status.value}[/]"
        f"  {_seconds(run.duration_ms)}  ({summary}; executor {run.executor}, "
        f"user {escape(run.user)}, started {_time(run.start_time)})"
    )


def _dag_tree(run: PipelineRun, *, logs: bool = False, now_ms: int | None = None) -> Tree:
    """The run's DAG as a tree: each step under its first upstream step."""
    from rich.markup import escape
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(_header(run))
    nodes: dict[str, Tree] = {}
    for step in run.steps:  # topological order: parents come first
        parent = nodes.get(step.upstream[0]) if step.upstream else None
        label = _step_line(step, now_ms)
        if len(step.upstream) > 1:
            label += f"  [dim](after {escape(', '.join(step.upstream))})[/]"
        nodes[step.name] = (parent or tree).add(label)
        if step.status.value == "FAILED" and step.traceback:
            tail = "\n".join(step.traceback.rstrip().splitlines()[-12:])
            nodes[step.name].add(Text(tail, style="red"))
        if logs and step.logs.strip():
            nodes[step.name].add(Text(step.logs.rstrip(), style="dim"))
    return tree


def render_pipeline_run(run: PipelineRun, *, logs: bool = False) -> None:
    """Print a pipeline run as a tree of its steps."""
    _console().print(_dag_tree(run, logs=logs))


def render_pipeline_runs(runs: Sequence[PipelineRun]) -> None:
    """Print a table of pipeline runs."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Pipeline runs")
    for col in (
        "id",
        "pipeline",
        "status",
        "steps",
        "ran",
        "cached",
        "failed",
        "started",
        "duration",
    ):
        table.add_column(col)
    for run in runs:
        style = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red"}[run.status.value]
        failed = sum(1 for s in run.steps if s.status.value in ("FAILED", "UPSTREAM_FAILED"))
        table.add_row(
            run.id[:12],
            escape(run.pipeline_name),
            f"[{style}]{run.status.value}[/]",
            str(len(run.steps)),
            str(len(run.executed)),
            str(len(run.cache_hits)),
            str(failed),
            _time(run.start_time),
            _seconds(run.duration_ms),
        )
    _console().print(table)


class _LiveRun:
    """The live display of a running pipeline: its DAG, refreshed as steps change."""

    def __init__(self, pipeline_name: str) -> None:
        self.pipeline_name = pipeline_name
        self.steps: dict[str, StepRun] = {}
        self.run_id = ""
        self.start_ms = 0

    def on_event(self, event: Any) -> None:
        self.run_id = event.pipeline_run_id
        self.steps[event.step.name] = event.step
        if not self.start_ms:
            self.start_ms = now_ms()

    def __rich__(self) -> RenderableType:

        from keel.store import PipelineRun, PipelineRunStatus

        now = now_ms()
        run = PipelineRun(
            id=self.run_id or "(starting)",
            pipeline_name=self.pipeline_name,
            status=PipelineRunStatus.RUNNING,
            steps=tuple(sorted(self.steps.values(), key=lambda s: s.position)),
            start_time=self.start_ms or now,
            executor="",
        )
        tree = _dag_tree(run, now_ms=now)
        done = sum(1 for s in self.steps.values() if s.status.is_terminal)
        tree.label = (
            f"[bold]{self.pipeline_name}[/]  run {self.run_id[:12]}  "
            f"[cyan]{done}/{len(self.steps)} steps done[/]  {_seconds(now - run.start_time)}"
        )
        return tree


@pipelines_app.command("run")
def pipelines_run(
    target: Annotated[
        str,
        typer.Argument(help="MODULE:PIPELINE, e.g. my_etl:pipeline or path/to/file.py:pipeline"),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="KEY=VALUE (or STEP.KEY=VALUE); repeat for more."),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", "-x", help="sequential, or process (parallel workers).")
    ] = "sequential",
    max_workers: Annotated[
        int | None, typer.Option("--max-workers", "-j", help="Worker processes for 'process'.")
    ] = None,
) -> None:
    """Run a pipeline, showing each step's progress live; exit 1 if a step failed."""
    from rich.live import Live

    from keel.pipelines import load_pipeline
    from keel.pipelines._params import parse_param_args

    params = parse_param_args(param or [])
    pipeline = load_pipeline(target)
    display = _LiveRun(pipeline.name)
    console = _console()
    if console.is_terminal:
        with Live(
            display,
            console=console,
            refresh_per_second=8,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=True,
        ):
            run = pipeline.run(
                params,
                executor=executor,
                max_workers=max_workers,
                on_event=display.on_event,
                raise_on_failure=False,
            )
    else:  # a log, not a screen: one line per step that ends

        def on_event(event: Any) -> None:
            display.on_event(event)
            if event.step.status.is_terminal:
                console.print(_step_line(event.step), highlight=False)

        run = pipeline.run(
            params,
            executor=executor,
            max_workers=max_workers,
            on_event=on_event,
            raise_on_failure=False,
        )
    console.print(_dag_tree(run))
    if run.status.value != "FINISHED":
        from keel.pipelines import PipelineFailedError

        failed = [s for s in run.steps if s.status.value == "FAILED"]
        detail = "; ".join(f"{s.name}: {s.error}" for s in failed)
        # A KeelError: the console script prints it as one line and exits 1.
        raise PipelineFailedError(
            f"pipeline {run.pipeline_name!r} failed ({detail}); details: "
            f"keel pipelines show {run.id[:12]} --logs",
            run,
        )
    console.print(f"details: keel pipelines show {run.id[:12]}", highlight=False)


@pipelines_app.command("show")
def pipelines_show(
    run_id: Annotated[str, typer.Argument(help="Pipeline run id or a unique prefix of it.")],
    logs: Annotated[bool, typer.Option("--logs", "-l", help="Show each step's logs.")] = False,
) -> None:
    """Show a pipeline run: its DAG with each step's status, duration, cache hit and outputs."""
    from keel.context import current_context

    store = current_context().store
    run = store.pipelines.get_pipeline_run(store.pipelines.resolve_pipeline_run_id(run_id))
    render_pipeline_run(run, logs=logs)


@pipelines_app.command("list")
def pipelines_list(
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", "-P", help="Only runs of this pipeline.")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="At most this many.")] = 20,
) -> None:
    """List pipeline runs, newest first."""
    from keel.context import current_context

    runs = current_context().store.pipelines.list_pipeline_runs(pipeline, max_results)
    render_pipeline_runs(runs)
