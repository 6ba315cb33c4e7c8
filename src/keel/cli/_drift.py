"""``keel drift REFERENCE CURRENT``: data drift between two tables, as a table, JSON or HTML."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from keel.monitoring import DriftReport

__all__ = ["drift_command"]


def _tests(values: list[str] | None) -> dict[str, object]:
    """``--test COLUMN=NAME[:THRESHOLD]`` options as drift's ``tests=`` mapping."""
    from keel.errors import InvalidArgumentError, show_input
    from keel.monitoring import DriftTest

    out: dict[str, object] = {}
    for item in values or ():
        column, sep, spec = item.partition("=")
        name, _, threshold = spec.partition(":")
        if not sep or not column or not name:
            raise InvalidArgumentError(
                f"--test {show_input(item)} is not COLUMN=TEST[:THRESHOLD]; e.g. --test age=psi:0.2"
            )
        try:
            value = float(threshold) if threshold else None
        except ValueError:
            raise InvalidArgumentError(
                f"--test {show_input(item)}: threshold {show_input(threshold)} is not a number"
            ) from None
        out[column] = DriftTest(name, value)
    return out


def drift_command(
    reference: Annotated[
        str,
        typer.Argument(
            help="Reference: a dataset (iris/3), a CSV or Parquet file, or a reference sketch file."
        ),
    ],
    current: Annotated[str, typer.Argument(help="Current data: a dataset, CSV or Parquet file.")],
    columns: Annotated[
        str | None, typer.Option("--columns", "-c", help="Comma-separated columns to compare.")
    ] = None,
    test: Annotated[
        list[str] | None,
        typer.Option("--test", help="COLUMN=TEST[:THRESHOLD] (repeatable; COLUMN * for all)."),
    ] = None,
    drift_share: Annotated[
        float, typer.Option("--drift-share", help="Share of drifted columns that is dataset drift.")
    ] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        str | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with status 3 when the dataset drifted.")
    ] = False,
) -> None:
    """Compare the distribution of each column of CURRENT with REFERENCE.

    Tests and thresholds follow Evidently's defaults (KS / chi-squared up to 1,000
    reference rows, normed Wasserstein / Jensen-Shannon above); see
    docs/guides/monitoring.md.
    """
    import json

    from keel.monitoring import drift

    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    report = drift(reference, current, chosen, _tests(test) or None, drift_share=drift_share)
    if html:
        from keel.monitoring import write_html_report

        write_html_report(report, html)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _render(report)
        if html:
            typer.echo(f"HTML report: {html}")
    if fail_on_drift and report.dataset_drift:
        raise typer.Exit(3)


def _fmt(value: float | None) -> str:
    from keel.cli._render import format_value

    return "" if value is None else format_value(value)


def _render(report: DriftReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    from keel.cli._render import console

    out = console()
    table = Table(title=f"drift: {escape(report.current)} vs {escape(report.reference)}")
    for header in (
        "column",
        "type",
        "test",
        "statistic",
        "p-value",
        "threshold",
        "result",
        "n ref",
        "n cur",
        "notes",
    ):
        justify = (
            "right" if header in ("statistic", "p-value", "threshold", "n ref", "n cur") else "left"
        )
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for c in report.columns:
        if not c.tested:
            result = "[dim]skipped[/]"
        elif c.drifted:
            result = "[bold red]DRIFT[/]"
        else:
            result = "[green]ok[/]"
        notes = [c.skipped or ""]
        if c.high_cardinality:
            notes.append("high cardinality")
        if c.approximate:
            notes.append("approximate")
        if c.band:
            notes.append(f"PSI {c.band}")
        table.add_row(
            escape(c.column),
            c.column_type,
            c.test or "",
            _fmt(c.statistic),
            _fmt(c.p_value),
            _fmt(c.threshold),
            result,
            f"{c.reference_size:,}",
            f"{c.current_size:,}",
            escape("; ".join(n for n in notes if n)),
        )
    out.print(table)
    verdict = "[bold red]dataset drift[/]" if report.dataset_drift else "[green]no dataset drift[/]"
    out.print(
        f"{verdict}: {len(report.drifted_columns)} of {len(report.tested_columns)} tested columns "
        f"drifted ({report.drift_share:.0%}; threshold {report.drift_share_threshold:.0%})"
    )
    for name in report.missing_columns:
        out.print(f"missing in current: {escape(name)}")
    for name in report.new_columns:
        out.print(f"new in current: {escape(name)}")
    for ch in report.category_changes:
        parts = []
        if ch.new_count:
            parts.append(
                f"{ch.new_count} new ({ch.new_share:.1%} of rows): {', '.join(map(str, ch.new[:5]))}"
            )
        if ch.vanished_count:
            parts.append(f"{ch.vanished_count} vanished: {', '.join(map(str, ch.vanished[:5]))}")
        out.print(f"categories {escape(ch.column)}: {escape('; '.join(parts))}")
    for nr in report.null_rate_changes:
        out.print(
            f"null rate {escape(nr.column)}: {nr.reference_rate:.2%} -> {nr.current_rate:.2%}"
        )
