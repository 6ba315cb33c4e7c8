"""``keel monitors ...`` and ``keel monitor run``: stored monitors of endpoints.

A monitor is given as YAML (``-f monitor.yaml``, the format of
docs/guides/monitoring.md), as flags, or both (the flags are laid over the file).
``keel monitor run NAME`` computes the windows not computed yet; with ``--every 5m`` it
keeps doing so, and ``--serve-metrics PORT`` exposes the ``keel_monitor_*`` gauges.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.monitoring import MonitorRun
    from keel.store import Monitor, MonitorResult

__all__ = ["monitor_app", "monitors_app"]

monitors_app = typer.Typer(
    help="Monitors of endpoints: drift, performance and alerts over the prediction log.",
    no_args_is_help=True,
)
monitor_app = typer.Typer(
    help="Run one monitor (the same as `keel monitors run`).", no_args_is_help=True
)

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_REASON = Annotated[str | None, typer.Option("--reason", help="Why (audited).")]


def _console() -> Any:
    from keel.cli._render import console

    return console()


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _window(window: str) -> str:
    kind, _, span = window.partition(":")
    start, _, end = span.rpartition("-")
    if kind == "time":
        return f"{_time(int(start))} to {_time(int(end))[11:]}"
    return f"rows {start}-{end}"


def _load_file(path: Path) -> dict[str, Any]:
    import yaml

    from keel._yaml import describe_yaml_error
    from keel.errors import InvalidArgumentError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"{path}: {describe_yaml_error(exc)}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{path} must hold a mapping (window, checks, alerts, ...)")
    return data


@monitors_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="The stored endpoint it watches.")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="A monitor YAML file.")] = None,
    rows: Annotated[int | None, typer.Option("--rows", help="Rows per window.")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Time per window (5m, 1h, 1d).")
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option(
            "--check", help="data_drift, prediction_drift or performance (repeatable; all)."
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="A reference dataset (NAME/N); default: lineage."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="The reference's label column.")
    ] = None,
    lateness: Annotated[
        str | None, typer.Option("--lateness", help="How late labels may arrive (1h).")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Update it if it exists.")] = False,
    reason: _REASON = None,
) -> None:
    """Create (or with --replace update) a monitor of a stored endpoint."""
    from keel.errors import InvalidArgumentError
    from keel.monitoring import create_monitor

    spec: dict[str, Any] = _load_file(file) if file else {}
    endpoint = endpoint or spec.pop("endpoint", None)
    spec.pop("endpoint", None)
    spec.pop("name", None)
    if not endpoint:
        raise InvalidArgumentError(
            "give the endpoint to watch: --endpoint NAME (or endpoint: in -f)"
        )
    if rows is not None or every is not None:
        spec["window"] = {"rows": rows} if rows is not None else {"every": every}
    if check:
        spec["checks"] = list(check)
    if reference or target:
        spec["reference"] = {
            k: v for k, v in (("dataset", reference), ("target", target)) if v is not None
        }
    if lateness:
        spec["lateness"] = lateness
    if "window" not in spec:
        raise InvalidArgumentError("give the windows: --rows N or --every 5m (or window: in -f)")
    monitor = create_monitor(name, endpoint, spec, replace=replace, reason=reason)
    _console().print(
        f"monitor {monitor.name} (revision {monitor.revision}) watches endpoint "
        f"{monitor.endpoint}: {_describe(monitor)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _describe(monitor: Monitor) -> str:
    window = monitor.spec.get("window", {})
    size = f"{window['rows']} rows" if "rows" in window else str(window.get("every"))
    checks = monitor.spec.get("checks") or ["data_drift", "prediction_drift", "performance"]
    rules = len(monitor.spec.get("alerts") or [])
    return f"windows of {size}; {', '.join(checks)}; {rules} alert rule(s)"


@monitors_app.command("list")
def list_(
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="Only monitors of this endpoint.")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """List the project's monitors."""
    from rich.table import Table

    from keel.monitoring import list_monitors
    from keel.store import to_wire

    monitors = list_monitors(endpoint)
    if as_json:
        typer.echo(json.dumps(to_wire(monitors), indent=2))
        return
    if not monitors:
        _console().print("no monitors (keel monitors create NAME --endpoint EP --rows 500)")
        return
    table = Table("name", "endpoint", "revision", "what", "updated")
    for m in monitors:
        table.add_row(m.name, m.endpoint, str(m.revision), _describe(m), _time(m.updated_at))
    _console().print(table)


def _value(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4g}"


def _results_table(results: list[MonitorResult]) -> Any:
    from rich.table import Table

    table = Table("window", "check", "status", "rows", "values")
    for r in results:
        shown = {
            k: v
            for k, v in r.values.items()
            if not k.startswith("columns.") or (k.endswith(".drifted") and v == 1.0)
        }
        text = ", ".join(
            k.removeprefix("columns.").removesuffix(".drifted")
            + (" drifted" if k.startswith("columns.") else f"={_value(v)}")
            for k, v in list(shown.items())[:8]
        )
        table.add_row(_window(r.window), r.check, r.status, str(r.rows), r.message or text or "-")
    return table


@monitors_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The monitor.")],
    history: Annotated[bool, typer.Option("--history", help="Every revision.")] = False,
    last: Annotated[int, typer.Option("--last", help="Results of the last N windows.")] = 10,
    as_json: _JSON = False,
) -> None:
    """Show a monitor: its spec, latest results and alerts (or its revisions)."""
    from keel.context import current_context
    from keel.store import to_wire

    store = current_context().store.monitors
    if history:
        revisions = store.list_monitor_revisions(name)
        if as_json:
            typer.echo(json.dumps(to_wire(revisions), indent=2))
            return
        for r in revisions:
            _console().print(
                f"revision {r.revision}: {r.action} by {r.actor} at {_time(r.time)}"
                + (f" ({r.reason})" if r.reason else ""),
                highlight=False,
                markup=False,
            )
        return
    monitor = store.get_monitor(name)
    results = store.list_results(name)
    windows = sorted({(r.start, r.end, r.window) for r in results})[-max(last, 0) :]
    keep = {w for _, _, w in windows}
    recent = [r for r in results if r.window in keep]
    alerts = store.list_alerts(name)
    if as_json:
        typer.echo(
            json.dumps(to_wire({"monitor": monitor, "results": recent, "alerts": alerts}), indent=2)
        )
        return
    console = _console()
    console.print(
        f"monitor {monitor.name} (revision {monitor.revision}) of endpoint {monitor.endpoint}: "
        f"{_describe(monitor)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if recent:
        console.print(_results_table(recent))
    else:
        console.print(f"no results yet (keel monitor run {name})")
    for a in alerts:
        state = "firing" if a.active else f"resolved on {_window(a.resolved_window or '')}"
        action = f"; {a.action} {a.action_status}: {a.action_detail or ''}" if a.action else ""
        console.print(
            f"alert {a.rule} [{a.severity}] {state}, fired on {_window(a.window)}: "
            f"{a.metric} = {_value(a.value)} ({a.condition}){action}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@monitors_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The monitor.")], reason: _REASON = None
) -> None:
    """Delete a monitor (its results and alerts stay)."""
    from keel.monitoring import delete_monitor

    delete_monitor(name, reason=reason)
    _console().print(f"monitor {name} deleted")


def _said(run: MonitorRun, as_json: bool) -> None:
    if as_json:
        from keel.store import to_wire

        typer.echo(
            json.dumps(
                to_wire(
                    {
                        "monitor": run.monitor,
                        "computed": run.computed,
                        "waiting": run.waiting,
                        "alerts": run.alerts,
                        "resolved": run.resolved,
                        "actions": run.actions,
                        "unknown_feedback": run.unknown_feedback,
                        "notes": run.notes,
                    }
                )
            )
        )
        return
    console = _console()
    console.print(run.summary(), highlight=False, soft_wrap=True)
    if run.computed:
        console.print(_results_table(run.computed))
    for a in run.alerts:
        console.print(
            f"alert {a.rule} [{a.severity}]: {a.message}", highlight=False, soft_wrap=True
        )
    for line in run.actions + run.notes:
        console.print(line, highlight=False, soft_wrap=True)


def run(
    name: Annotated[str, typer.Argument(help="The monitor.")],
    every: Annotated[
        str | None,
        typer.Option("--every", help="Keep running: again every this long (5m, 1h)."),
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option("--webhook", help="Also POST alerts as JSON to this URL (repeatable)."),
    ] = None,
    serve_metrics: Annotated[
        int | None,
        typer.Option("--serve-metrics", help="Expose keel_monitor_* gauges on this port."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="The address --serve-metrics listens on.")
    ] = "127.0.0.1",
    as_json: _JSON = False,
) -> None:
    """Compute the windows the monitor has not computed yet, then evaluate its alerts."""
    import threading

    from keel.monitoring import WebhookSink, get_monitor, run_monitor, run_monitor_every
    from keel.monitoring._monitor_spec import open_sinks, parse_duration_ms, parse_monitor_spec

    spec = parse_monitor_spec(get_monitor(name).spec)
    sinks: list[Any] = [*open_sinks(spec), *(WebhookSink(url) for url in webhook or ())]
    metrics = server = None
    if serve_metrics is not None:
        from keel.monitoring import MonitorMetrics, serve_metrics as serve

        metrics = MonitorMetrics()
        server = serve(serve_metrics, metrics.registry, host=metrics_host)
        _console().print(f"keel_monitor_* gauges on {server.url}", highlight=False, markup=False)
    try:
        if every is None:
            _said(run_monitor(name, sinks=sinks, metrics=metrics), as_json)
            return
        interval = parse_duration_ms(every, "--every") / 1000
        stop = threading.Event()
        try:
            run_monitor_every(
                name,
                interval,
                stop=stop,
                on_run=lambda r: _said(r, as_json),
                on_error=lambda e: _console().print(
                    f"run failed: {e}", highlight=False, markup=False
                ),
                sinks=sinks,
                metrics=metrics,
            )
        except KeyboardInterrupt:
            stop.set()
    finally:
        for sink in sinks:
            sink.close(10)
        if server is not None:
            server.close()


monitors_app.command("run")(run)
monitor_app.command("run")(run)


def report(
    name: Annotated[str, typer.Argument(help="The monitor.")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The page to write (.html; .json for the data)."),
    ] = Path("monitor-report.html"),
) -> None:
    """Write the monitor's report: one self-contained HTML page (or its JSON)."""
    from keel.monitoring import write_monitor_report
    from keel.monitoring._stored_report import monitor_report_data

    path = write_monitor_report(monitor_report_data(name), output)
    _console().print(f"monitor report written to {path}", highlight=False, markup=False)


monitors_app.command("report")(report)
monitor_app.command("report")(report)
