"""``keel experiments ...`` and ``keel runs ...``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from keel.tracking import Client

__all__ = ["experiments_app", "runs_app"]

experiments_app = typer.Typer(help="List experiments.", no_args_is_help=True)
runs_app = typer.Typer(help="List, show and compare runs.", no_args_is_help=True)


def _client() -> Client:
    from keel.tracking import Client

    return Client()


@experiments_app.command("list")
def experiments_list() -> None:
    """List experiments with their number of runs."""
    from keel.cli._render import render_experiments

    client = _client()
    experiments = client.list_experiments()
    counts = {}
    for exp in experiments:
        counts[exp.id] = len(client.store.tracking.search_runs([exp.id], max_results=50_000))
    render_experiments(experiments, counts)


@runs_app.command("list")
def runs_list(
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Experiment name.")
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter", "-f", help="e.g. \"metrics.accuracy > 0.9 and params.model = 'rf'\""
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. 'metrics.accuracy DESC'")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="At most this many runs.")] = 50,
) -> None:
    """List runs, newest first, optionally filtered and ordered.

    A filter naming a metric, param or tag that no run of the experiments has is an
    error that lists the nearest names (an empty table would hide the typo).
    """
    from keel.cli._render import render_runs

    client = _client()
    runs = client.search_runs(experiment, filter_, order_by or [], max_results)
    names = {e.id: e.name for e in client.list_experiments()}
    render_runs(runs, names, first_metrics=_metrics_named(filter_, order_by or []))


def _metrics_named(filter_: str | None, order_by: list[str]) -> list[str]:
    """The metrics a search sorts or filters by, to show them first (already parsed)."""
    from keel.store import parse_filter, parse_order_by
    from keel.store._filter import referenced_keys

    named = [k.key for k in parse_order_by(order_by) if k.kind == "metrics"]
    expr = parse_filter(filter_ or "")
    if expr is not None:
        named += [key for kind, key in referenced_keys(expr) if kind == "metrics"]
    return named


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix of it.")],
    card_: Annotated[
        bool, typer.Option("--card/--no-card", help="Show the run's model card, if it has one.")
    ] = True,
) -> None:
    """Show a run: params, metrics by kind, tags, environment, artifacts, model card, error."""
    from keel.cli._render import render_run

    client = _client()
    run = client.get_run(run_id)
    experiment = client.store.tracking.get_experiment(run.experiment_id)
    children = client.store.tracking.search_runs(
        [run.experiment_id], f"parent_run_id = '{run.id}'", max_results=1000
    )
    artifacts = client.list_artifacts(run.id)
    card = None
    if card_ and any(a.path == "model_card.md" for a in artifacts):
        card = client.load_artifact_bytes(run.id, "model_card.md").decode("utf-8")
    render_run(run, experiment.name, artifacts, children, model_card=card)


@runs_app.command("download")
def runs_download(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix of it.")],
    path: Annotated[
        str, typer.Argument(help="An artifact or a folder of them; all when omitted.")
    ] = "",
    dest: Annotated[str, typer.Option("--dest", "-d", help="Local folder to write into.")] = ".",
) -> None:
    """Download artifacts (plots, model card, model files), each verified against its sha256."""
    client = _client()
    target = client.download_artifacts(run_id, path, dest)
    count = len(client.list_artifacts(run_id, path))
    typer.echo(f"{count} file(s) written under {target}")


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or unique prefixes).")],
) -> None:
    """Compare runs: params and final metrics side by side, differences highlighted."""
    from keel.cli._render import render_compare
    from keel.errors import InvalidArgumentError

    if len(run_ids) < 2:
        raise InvalidArgumentError(
            "compare needs at least two run ids; list them with: keel runs list"
        )
    client = _client()
    render_compare([client.get_run(r) for r in run_ids])
