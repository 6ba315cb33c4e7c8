"""``keel train CONFIG.yaml``: run ``keel.train`` from a YAML config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["train_command"]


def train_command(
    config: Annotated[Path, typer.Argument(help="Training config (YAML).", exists=False)],
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Override the config's experiment.")
    ] = None,
    run_name: Annotated[
        str | None, typer.Option("--run-name", help="Override the run name.")
    ] = None,
) -> None:
    """Train a model as CONFIG.yaml describes: CV, search, evaluation, fairness, model card.

    Example config: model: {class: sklearn.ensemble.RandomForestClassifier, params: {...}},
    data: iris.csv, target: species, cv: 5, search: {n_trials: 20, space: {...}}.
    """
    from rich.table import Table

    from keel.cli._render import console
    from keel.training import load_train_config, train_from_config

    cfg = load_train_config(config)
    updates = {k: v for k, v in {"experiment": experiment, "run_name": run_name}.items() if v}
    if updates:
        cfg = cfg.model_copy(update=updates)
    out = console()
    # keel.train shows its own progress line on a terminal
    result = train_from_config(cfg, base_dir=config.resolve().parent)
    table = Table(title=f"run {result.run_id} ({result.experiment}, {result.task})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    shown = [k for k in result.metrics if not k.startswith(("cv_fold.", "shap.", "epoch."))]
    for key in sorted(shown)[:40]:
        table.add_row(key, f"{result.metrics[key]:.4g}")
    out.print(table)
    if result.best_params:
        out.print(f"best params: {dict(result.best_params)}")
    out.print(f"details: keel runs show {result.run_id}")
