"""All terminal rendering of the CLI: tables, run summaries, comparisons, errors."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.console import Console
    from rich.table import Table

    from keel.store import ArtifactRecord, Experiment, Run

__all__ = [
    "console",
    "format_value",
    "print_error",
    "render_compare",
    "render_experiments",
    "render_run",
    "render_runs",
]

_STATUS_STYLE = {"FINISHED": "green", "RUNNING": "cyan", "FAILED": "red", "KILLED": "yellow"}


def console(stderr: bool = False) -> Console:
    """A Rich console (wide enough for tables when output is not a terminal)."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, tests) gets a wide console instead of Rich's 80 columns.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, width=width, soft_wrap=False)


def print_error(message: str) -> None:
    """One line on stderr: ``error: <message>``."""
    from rich.markup import escape

    # soft_wrap: one line whatever its length (a log or a test reads it as one)
    console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: Run) -> str:
    if run.end_time is None:
        return "running"
    seconds = (run.end_time - run.start_time) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


def format_value(value: Any) -> str:
    """A metric or param as a short string (NaN and infinities spelled out)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


def render_experiments(experiments: Sequence[Experiment], run_counts: dict[str, int]) -> None:
    """A table of experiments."""
    from rich.table import Table

    table = Table(title="Experiments")
    for col in ("name", "id", "runs", "created"):
        table.add_column(col)
    for exp in experiments:
        table.add_row(exp.name, exp.id[:12], str(run_counts.get(exp.id, 0)), _time(exp.created_at))
    console().print(table)


_RUN_METRIC_COLUMNS = 4


def _metric_columns(runs: Sequence[Run], first: Sequence[str]) -> tuple[list[str], int]:
    """The metric columns of a runs table, and how many metrics did not fit.

    Metrics the user searched or sorted by come first; then the others in natural
    order (``k400`` before ``k1200``).
    """
    from keel.store._tracking import natural_key

    present = {key for run in runs for key in run.metrics}
    keys = [k for k in dict.fromkeys(first) if k in present]
    keys += sorted(present.difference(keys), key=natural_key)
    return keys[:_RUN_METRIC_COLUMNS], max(0, len(keys) - _RUN_METRIC_COLUMNS)


def render_runs(
    runs: Sequence[Run], experiment_names: dict[str, str], first_metrics: Sequence[str] = ()
) -> None:
    """A table of runs with their main metrics.

    Args:
        runs: the runs, in the order to show.
        experiment_names: experiment id -> name.
        first_metrics: metrics to show first (those the search filtered or sorted by).
    """
    from rich.markup import escape
    from rich.table import Table

    metric_keys, hidden = _metric_columns(runs, first_metrics)
    caption = None
    if hidden:
        caption = f"{hidden} more metric(s): keel runs show ID, or keel runs compare ID ID"
    table = Table(title=f"Runs ({len(runs)})", caption=caption)
    for col in ("id", "name", "experiment", "status", "started", "duration"):
        table.add_column(col, overflow="fold")
    for key in metric_keys:  # names are the user's: never read as Rich markup
        table.add_column(escape(key), overflow="fold")
    for run in runs:
        style = _STATUS_STYLE.get(run.status.value, "")
        table.add_row(
            run.id[:12],
            escape(run.name),
            escape(experiment_names.get(run.experiment_id, run.experiment_id[:8])),
            f"[{style}]{run.status.value}[/]",
            _time(run.start_time),
            _duration(run),
            *[format_value(run.metrics[k]) if k in run.metrics else "" for k in metric_keys],
        )
    console().print(table)


def render_run(
    run: Run,
    experiment: str,
    artifacts: Sequence[ArtifactRecord],
    children: Sequence[Run],
    model_card: str | None = None,
) -> None:
    """Everything about one run: params, metrics grouped by kind (cross-validation, test,
    fairness, SHAP importance, ...), environment, artifacts, child runs, the model card
    and the error."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from keel.store._tracking import natural_key

    out = console()
    style = _STATUS_STYLE.get(run.status.value, "")
    head = (
        f"[bold]{escape(run.name)}[/]  [{style}]{run.status.value}[/]\n"
        f"id          {run.id}\nexperiment  {escape(experiment)}\n"
        f"started     {_time(run.start_time)}   duration {_duration(run)}\nuser        {escape(run.user)}"
    )
    if run.parent_run_id:
        head += f"\nparent      {run.parent_run_id}"
    source = run.tags.get("keel.source.git_commit")
    if source:
        dirty = " (dirty)" if run.tags.get("keel.source.git_dirty") == "true" else ""
        head += f"\ngit         {source[:12]}{dirty}"
    head += f"\nentry point {escape(run.tags.get('keel.source.entry_point', '-'))}"
    out.print(Panel(head, title="run", expand=False))
    if run.params:
        table = Table(title="params", show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value")
        for key in sorted(run.params, key=natural_key):
            table.add_row(escape(key), escape(format_value(run.params[key])))
        out.print(table)
    if run.metrics:
        out.print(_metrics_table(run.metrics))
    user_tags = {k: v for k, v in run.tags.items() if not k.startswith("keel.")}
    if user_tags:
        out.print(
            "tags: " + ", ".join(f"{escape(k)}={escape(v)}" for k, v in sorted(user_tags.items()))
        )
    if run.tags.get("keel.packages"):
        pkgs = json.loads(run.tags["keel.packages"])
        out.print(
            f"python {run.tags.get('keel.python', '?')} on {escape(run.tags.get('keel.host', '?'))}; "
            + ", ".join(f"{k} {v}" for k, v in pkgs.items()),
            style="dim",
        )
    if artifacts:
        table = Table(title="artifacts")
        for col in ("path", "size", "sha256"):
            table.add_column(col)
        for rec in artifacts:
            table.add_row(escape(rec.path), f"{rec.size:,}", rec.sha256[:12])
        out.print(table)
        out.print(
            f"[dim]download (verified): keel runs download {run.id[:8]} [PATH] --dest DIR[/]",
            highlight=False,
        )
    if children:
        out.print(f"child runs: {len(children)}")
        render_runs(children, {})
    if model_card:
        from rich.markdown import Markdown

        out.print(Panel(Markdown(model_card), title="model card (model_card.md)", expand=False))
    if run.error:
        out.print(Panel(escape(run.error[-3000:]), title="error", style="red"))


_GROUP_TITLES = {
    "cv": "cross-validation (mean and std over folds)",
    "cv_fold": "per fold (last fold; the series has one value per fold)",
    "train": "refit on all training data",
    "test": "held-out test data",
    "fairness": "fairness by group",
    "shap": "explanations: mean |SHAP| per feature",
    "epoch": "training curve (last epoch)",
}


def _metrics_table(metrics: Mapping[str, float]) -> Table:
    """Metrics grouped by their prefix; SHAP importances sorted, with bars."""
    from rich.markup import escape
    from rich.table import Table

    from keel.store._tracking import natural_key

    groups: dict[str, list[str]] = {}
    for key in sorted(metrics, key=natural_key):
        prefix = key.split(".", 1)[0] if "." in key else ""
        groups.setdefault(prefix, []).append(key)
    table = Table(title="metrics", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    # The bar column only where there are bars (SHAP importances): else it is empty.
    with_bars = "shap" in groups
    if with_bars:
        table.add_column("", style="cyan")
    blank = [""] if with_bars else []
    order = ["", "cv", "test", "train", "fairness", "shap", "cv_fold", "epoch"]
    for prefix in sorted(groups, key=lambda p: (order.index(p) if p in order else len(order), p)):
        keys = groups[prefix]
        if prefix:
            title = _GROUP_TITLES.get(prefix, prefix)
            table.add_row(f"[underline]{escape(title)}[/]", "", *blank)
        bars = prefix == "shap"
        if bars:
            keys.sort(key=lambda k: -abs(metrics[k]) if not math.isnan(metrics[k]) else 0.0)
        top = max((abs(metrics[k]) for k in keys if not math.isnan(metrics[k])), default=0.0)
        for key in keys:
            value = metrics[key]
            cells = [escape(key), escape(format_value(value))]
            if with_bars:
                bar = ""
                if bars and top > 0 and not math.isnan(value):
                    bar = "█" * max(1, round(24 * abs(value) / top))
                cells.append(bar)
            table.add_row(*cells)
    return table


def render_compare(runs: Sequence[Run]) -> None:
    """Params and final metrics side by side; rows that differ are highlighted."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Run comparison", show_lines=False)
    table.add_column("", style="bold")
    for run in runs:
        table.add_column(f"{escape(run.name)}\n{run.id[:8]}")

    from keel.store._tracking import natural_key

    def section(title: str, getter: str) -> None:
        keys = sorted({k for run in runs for k in getattr(run, getter)}, key=natural_key)
        if not keys:
            return
        table.add_row(f"[underline]{title}[/]", *["" for _ in runs])
        for key in keys:
            values = [getattr(run, getter).get(key) for run in runs]
            shown = [format_value(v) if v is not None else "-" for v in values]
            differ = len(set(shown)) > 1
            if differ and getter == "metrics":
                numbers = [v for v in values if isinstance(v, float) and not math.isnan(v)]
                best = max(numbers) if numbers else None
                cells = [
                    f"[bold yellow]{s}[/]" if v is not None and v == best else f"[yellow]{s}[/]"
                    for s, v in zip(shown, values, strict=True)
                ]
            else:
                cells = [f"[yellow]{escape(s)}[/]" if differ else escape(s) for s in shown]
            label = f"[yellow]{escape(key)}[/] *" if differ else escape(key)
            table.add_row(label, *cells)

    table.add_row("status", *[run.status.value for run in runs])
    table.add_row("duration", *[_duration(run) for run in runs])
    section("params", "params")
    section("metrics", "metrics")
    console().print(table)
    console().print("[dim]* differs between runs; the highest value of a metric is in bold[/]")
