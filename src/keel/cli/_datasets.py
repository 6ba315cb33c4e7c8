"""``keel datasets ...``: register, list, show, diff, validate, head and split datasets."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.data import DatasetDiff, DatasetVersion, ValidationReport
    from keel.store import DatasetSummary

__all__ = ["datasets_app"]

datasets_app = typer.Typer(
    help="Register, inspect, compare, validate and split versioned datasets.",
    no_args_is_help=True,
)


def _pairs(values: Sequence[str] | None, option: str) -> dict[str, str]:
    from keel.errors import InvalidArgumentError, show_input

    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(
                f"{option} {show_input(item)} is not KEY=VALUE; e.g. {option} zip=string"
            )
        out[key] = value
    return out


@datasets_app.command("register")
def register_cmd(
    path: Annotated[
        str, typer.Argument(help="File or fsspec URL: CSV, TSV, JSON Lines, JSON, Parquet.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name, e.g. iris-raw.")],
    expectations: Annotated[
        str | None, typer.Option("--expectations", "-e", help="YAML file of expectations.")
    ] = None,
    allow_invalid: Annotated[
        bool,
        typer.Option(
            "--allow-invalid", help="Register data that fails its expectations, marked invalid."
        ),
    ] = False,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable).")] = None,
    format_: Annotated[
        str | None,
        typer.Option("--format", help="csv, tsv, jsonl, json or parquet (default: by suffix)."),
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option("--type", help="COLUMN=TYPE to force a CSV column's type (repeatable)."),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No progress bar (shown only on a terminal, or with KEEL_PROGRESS=1).",
        ),
    ] = False,
) -> None:
    """Register a file as a new version of a dataset (identical content returns the existing one)."""
    import keel.data as ds
    from keel._terminal import terminal_output
    from keel.config import load_settings
    from keel.data import DatasetValidationError

    # the same switch as keel.train's: a live bar on a terminal, none in logs and pipes
    show = terminal_output(False if quiet else None, load_settings().progress).live

    try:
        v = ds.register(
            path,
            name,
            description=description,
            expectations=expectations,
            allow_invalid=allow_invalid,
            tags=_pairs(tag, "--tag"),
            format=format_,
            column_types=_pairs(type_, "--type") or None,
            progress=show,
        )
    except DatasetValidationError as exc:
        if exc.report is not None:
            _render_validation(exc.report)
        raise
    except KeyboardInterrupt as exc:
        # register() cleans up before the interrupt reaches here (no version, no file),
        # unless it came while the version was being recorded, which then completes
        done = f" after {exc.args[0]}" if exc.args else "; nothing was registered"
        typer.echo(f"interrupted{done}", err=True)
        raise typer.Exit(130) from None
    out = _console()
    state = "[green]valid[/]" if v.valid else "[red]INVALID[/] (registered with --allow-invalid)"
    done = "registered" if v.created is not False else "unchanged: already"
    out.print(
        f"{done} [bold]{v.reference}[/]: {v.num_rows:,} rows x {len(v.schema)} columns, "
        f"sha256:{v.content_hash[:12]}, {state}",
        highlight=False,
    )
    if v.created is False and expectations is not None and v.validation is not None:
        out.print(f"validation recorded on {v.reference}: {v.validation.summary()}")


@datasets_app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(help="A dataset name to list its versions.")] = None,
) -> None:
    """List datasets, or the versions of one dataset."""
    import keel.data as ds

    if name is None:
        _render_datasets(ds.list_datasets())
    else:
        _render_versions(ds.versions(name))


@datasets_app.command("show")
def show_cmd(
    reference: Annotated[
        str,
        typer.Argument(
            help="A dataset reference: NAME (the latest), NAME/VERSION or NAME/sha256:PREFIX."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show a version: schema, profile, validation report, source and lineage."""
    import keel.data as ds

    v = ds.get(reference)
    if as_json:
        typer.echo(json.dumps(_version_dict(v), indent=2, default=str))
        return
    _render_version(v)


@datasets_app.command("diff")
def diff_cmd(
    a: Annotated[str, typer.Argument(help="Reference of the first version, e.g. iris/1.")],
    b: Annotated[str, typer.Argument(help="Reference of the second version, e.g. iris/2.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Schema changes and profile shifts between two versions."""
    import keel.data as ds

    d = ds.diff(a, b)
    if as_json:
        typer.echo(json.dumps(d.to_dict(), indent=2, default=str))
        return
    _render_diff(d)


@datasets_app.command("validate")
def validate_cmd(
    reference: Annotated[str, typer.Argument(help="A dataset reference (iris/3) or a file path.")],
    expectations: Annotated[
        str, typer.Option("--expectations", "-e", help="YAML file of expectations.")
    ],
) -> None:
    """Check a version (or a file) against expectations; exit 1 if any check fails."""
    import keel.data as ds
    from keel.data import DatasetValidationError

    report = ds.validate(reference, expectations)
    _render_validation(report)
    if not report.passed:
        raise DatasetValidationError(
            f"{reference} fails {len(report.failures)} of {len(report.checks)} checks: {report.summary()}",
            report,
        )


@datasets_app.command("head")
def head_cmd(
    reference: Annotated[
        str,
        typer.Argument(
            help="A dataset reference: NAME (the latest), NAME/VERSION or NAME/sha256:PREFIX."
        ),
    ],
    n: Annotated[int, typer.Option("-n", "--rows", min=1, max=10_000, help="Rows to show.")] = 10,
) -> None:
    """Print the first rows of a version."""
    from rich.table import Table

    import keel.data as ds

    v = ds.get(reference)
    df = v.head(n)
    out = _console()
    out.print(f"{v.reference} (first {len(df)} of {v.num_rows:,} rows)", highlight=False)
    table = Table()
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*[_cell(x) for x in row])
    out.print(table)


@datasets_app.command("split")
def split_cmd(
    reference: Annotated[str, typer.Argument(help="Reference of the parent version, e.g. iris/1.")],
    fraction: Annotated[
        list[str] | None,
        typer.Option(
            "--fraction",
            "-f",
            help="SPLIT=FRACTION (repeatable); default train=0.7 validation=0.15 test=0.15.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    stratify: Annotated[
        str | None, typer.Option("--stratify", help="Keep this column's proportions.")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Keep groups of this column together.")
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Split by this column's order.")
    ] = None,
) -> None:
    """Split a version into derived versions NAME-SPLIT with lineage to it."""
    import keel.data as ds
    from keel.errors import InvalidArgumentError, show_input

    fractions: dict[str, float] | None = None
    if fraction:
        fractions = {}
        for key, value in _pairs(fraction, "--fraction").items():
            try:
                fractions[key] = float(value)
            except ValueError:
                raise InvalidArgumentError(
                    f"--fraction {key}={show_input(value)}: the fraction is not a number"
                ) from None
    parts = ds.split(reference, fractions, seed=seed, stratify=stratify, group=group, time=time)
    out = _console()
    for key, v in parts.items():
        out.print(f"{key:>12}: [bold]{v.reference}[/] {v.num_rows:,} rows", highlight=False)


# -- rendering ---------------------------------------------------------------------------


def _console() -> Any:
    from keel.cli._render import console

    return console()


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]null[/]"
    if isinstance(value, float):
        return f"{value:.6g}"
    from rich.markup import escape

    text = str(value)
    return escape(text if len(text) <= 80 else text[:77] + "...")


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _render_datasets(items: Sequence[DatasetSummary]) -> None:
    from rich.table import Table

    if not items:
        _console().print(
            "no datasets yet; register one with `keel datasets register PATH --name NAME`"
        )
        return
    table = Table()
    for col in ("name", "versions", "latest", "rows", "updated"):
        table.add_column(col)
    for d in items:
        table.add_row(
            d.name,
            str(d.num_versions),
            f"{d.name}/{d.latest_version}",
            f"{d.num_rows:,}",
            _time(d.updated_at),
        )
    _console().print(table)


def _render_versions(items: Sequence[DatasetVersion]) -> None:
    from rich.table import Table

    table = Table()
    for col in ("reference", "rows", "columns", "sha256", "valid", "source", "created"):
        table.add_column(col)
    for v in items:
        table.add_row(
            v.reference,
            f"{v.num_rows:,}",
            str(len(v.schema)),
            v.content_hash[:12],
            "yes" if v.valid else "[red]no[/]",
            v.source_uri,
            _time(v.created_at),
        )
    _console().print(table)


def _version_dict(v: DatasetVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "reference": v.reference,
        "name": v.name,
        "version": v.version,
        "content_hash": v.content_hash,
        "num_rows": v.num_rows,
        "size_bytes": v.size_bytes,
        "schema": v.schema.to_dict(),
        "profile": dict(v.profile),
        "source_uri": v.source_uri,
        "created_by": v.created_by,
        "created_at": v.created_at,
        "valid": v.valid,
        "validation": v.validation.to_dict() if v.validation else None,
        "description": v.description,
        "tags": dict(v.tags),
        "parent_ids": list(v.parent_ids),
        "derivation": v.derivation,
    }


def _column_summary(p: Mapping[str, Any]) -> str:
    kind = p.get("kind")
    if kind == "numeric":
        q = p.get("quantiles") or {}
        return (
            f"min {_num(p.get('min'))}  p50 {_num(q.get('p50'))}  max {_num(p.get('max'))}  "
            f"mean {_num(p.get('mean'))}  std {_num(p.get('std'))}"
        )
    if kind in ("categorical", "boolean"):
        top = p.get("top") or []
        return "top: " + ", ".join(f"{t['value']} ({t['count']:,})" for t in top[:5])
    if kind == "text":
        length = p.get("length") or {}
        return f"length {_num(length.get('min'))}-{_num(length.get('max'))}, mean {_num(length.get('mean'))}"
    if kind == "temporal":
        return f"{p.get('min')} .. {p.get('max')}"
    return ""


def _sparkline(counts: Sequence[int]) -> str:
    bars = " ▁▂▃▄▅▆▇█"
    top = max(counts) if counts else 0
    if not top:
        return ""
    return "".join(bars[min(8, round(c / top * 8))] for c in counts)


def _render_version(v: DatasetVersion) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = _console()
    state = "[green]valid[/]" if v.valid else "[bold red]INVALID[/]"
    out.print(f"[bold]{v.reference}[/]  {state}", highlight=False)
    facts = [
        ("id", v.id),
        ("rows", f"{v.num_rows:,}"),
        ("sha256", v.content_hash),
        ("size", f"{v.size_bytes:,} bytes (Parquet)"),
        ("source", v.source_uri),
        ("created", f"{_time(v.created_at)} UTC by {v.created_by}"),
    ]
    if v.description:
        facts.append(("description", v.description))
    if v.tags:
        facts.append(("tags", ", ".join(f"{k}={val}" for k, val in v.tags.items())))
    if v.derivation:
        facts.append(("derived", json.dumps(v.derivation, default=str)))
    for key, value in facts:
        out.print(f"  {key:>11}: {escape(str(value))}", highlight=False)
    approx = " (approximate distinct counts and quantiles)" if v.profile.get("approximate") else ""
    table = Table(title=f"schema and profile{approx}", title_justify="left")
    for col in ("column", "type", "kind", "nulls", "distinct", "summary", "histogram"):
        table.add_column(col, overflow="fold")
    columns = v.profile.get("columns", {})
    for c in v.schema.columns:
        p = columns.get(c.name, {})
        nulls = p.get("nulls", 0)
        null_text = f"{nulls:,} ({p.get('null_fraction', 0):.1%})" if nulls else "0"
        hist = (p.get("histogram") or {}).get("counts") or []
        table.add_row(
            escape(c.name),
            c.type,
            str(p.get("kind", "")),
            null_text,
            _num(p.get("distinct")),
            escape(_column_summary(p)),
            _sparkline(hist),
        )
    out.print(table)
    if v.validation is not None:
        _render_validation(v.validation)
    else:
        out.print("validation: no expectations were given at registration", style="dim")


def _render_validation(report: ValidationReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = _console()
    sampled = (
        f" (row-level checks on a sample of {report.rows_checked:,} rows)" if report.sampled else ""
    )
    verdict = "[green]passed[/]" if report.passed else f"[bold red]{len(report.failures)} failed[/]"
    table = Table(
        title=f"validation: {len(report.checks)} checks, {verdict}{sampled}", title_justify="left"
    )
    for col in ("check", "column", "result", "failures", "examples / message"):
        table.add_column(col, overflow="fold")
    for c in report.checks:
        examples = "; ".join(_example(e, c.column) for e in c.examples[:3])
        detail = " | ".join(part for part in (c.message, examples) if part)
        table.add_row(
            escape(c.check),
            escape(c.column or "*"),
            "[green]ok[/]" if c.passed else "[red]FAIL[/]",
            f"{c.failures:,}" if not c.passed else "",
            escape(detail),
        )
    out.print(table)


def _example(row: Mapping[str, Any], column: str | None) -> str:
    """A failing row, reduced to its number and the checked column when there is one."""
    if column is not None and column in row:
        row = {"row": row.get("row"), column: row[column]}
    text = json.dumps(dict(row), default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def _render_diff(d: DatasetDiff) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = _console()
    same = " (identical content)" if d.same_content else ""
    out.print(
        f"[bold]{d.a}[/] -> [bold]{d.b}[/]: rows {d.rows[0]:,} -> {d.rows[1]:,}{same}",
        highlight=False,
    )
    if d.schema_changes:
        table = Table(title="schema changes", title_justify="left")
        for col in ("column", "change", "before", "after"):
            table.add_column(col)
        for c in d.schema_changes:
            table.add_row(escape(c.column), c.change, c.before or "-", c.after or "-")
        out.print(table)
    else:
        out.print("schema: no changes")
    table = Table(title="profile shifts (* = significant)", title_justify="left")
    for col in ("column", "metric", "before", "after", "", "note"):
        table.add_column(col, overflow="fold")
    for s in d.shifts:
        table.add_row(
            escape(s.column),
            s.metric,
            _num(s.before),
            _num(s.after),
            "[bold yellow]*[/]" if s.significant else "",
            escape(s.note),
        )
    out.print(table)
