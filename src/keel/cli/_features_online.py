"""``keel features materialize``: the latest feature values into the online store.

Registered on ``keel features`` by :mod:`keel.cli._features`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

__all__ = ["register_online_commands"]


def features_materialize(
    view: Annotated[
        list[str] | None,
        typer.Option("--view", help="A feature view (repeat for several; default: every view)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            help="Read source rows up to this time (ISO-8601; no offset: UTC). Default: all.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write the latest values of each entity to the online store, reading only rows
    newer than the last run's watermark. Example: keel features materialize --view spend"""
    from keel.features import materialize

    report = materialize(view or None, end)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print_report(report)


def _print_report(report: Any) -> None:
    from rich.table import Table

    from keel.cli._render import console

    out = console()
    table = Table(title=f"materialized into {report.online_store}", title_justify="left")
    for column in ("view", "version", "rows read", "written", "watermark", "lag", "seconds"):
        table.add_column(column, justify="right" if column not in ("view", "watermark") else "left")
    for v in report.views:
        mark = "-" if v.watermark is None else v.watermark.strftime("%Y-%m-%d %H:%M:%S")
        if v.full:
            mark += " (full)"
        table.add_row(
            v.view,
            str(v.version),
            f"{v.rows:,}",
            f"{v.written:,}",
            mark,
            f"{v.lag_seconds:,.0f}s",
            f"{v.seconds:.2f}",
        )
    out.print(table)


def register_online_commands(app: typer.Typer) -> None:
    """Add the online-store commands to ``keel features``."""
    app.command("materialize")(features_materialize)
