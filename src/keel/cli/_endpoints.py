"""``keel endpoints ...``: create, update, show, list and delete stored endpoints; read
an endpoint's prediction log.

An endpoint is given as YAML (``-f endpoint.yaml``, the format of
docs/guides/serving.md), as flags (``--target iris@champion=90 --target
iris@challenger=10``), or both (the flags are laid over the file). ``keel serve NAME``
serves a stored endpoint and follows its changes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.store import Endpoint, EndpointRevision

__all__ = ["endpoints_app"]

endpoints_app = typer.Typer(
    help="Stored endpoints: what `keel serve NAME` serves, versioned and audited.",
    no_args_is_help=True,
)

_FILE = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="An endpoint YAML file (docs/guides/serving.md)."),
]
_TARGET = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        "-t",
        help="A served model and its weight: iris@champion=90 (repeat for a canary split).",
    ),
]
_SHADOW = Annotated[
    str | None, typer.Option("--shadow", help="A model mirrored a copy of the traffic.")
]
_SHADOW_RATE = Annotated[
    float | None, typer.Option("--shadow-sample-rate", help="Share of requests mirrored.")
]
_NO_SHADOW = Annotated[bool, typer.Option("--no-shadow", help="Remove the shadow.")]
_STICKY = Annotated[
    str | None, typer.Option("--sticky-header", help="Header pinning a caller to one target.")
]
_MAX_ROWS = Annotated[int | None, typer.Option("--max-rows", help="Rows per request at most.")]
_MAX_BODY = Annotated[
    int | None, typer.Option("--max-body-bytes", help="Request body size at most.")
]
_TIMEOUT = Annotated[float | None, typer.Option("--timeout-s", help="Seconds a request may take.")]
_BATCHING = Annotated[
    bool | None,
    typer.Option("--batching/--no-batching", help="Adaptive micro-batching on or off."),
]
_BATCH_ROWS = Annotated[
    int | None, typer.Option("--max-batch-rows", help="Rows per batch at most.")
]
_WAIT = Annotated[float | None, typer.Option("--max-wait-ms", help="Longest wait for batch-mates.")]
_LOG_RATE = Annotated[
    float | None,
    typer.Option("--log-sample-rate", help="Share of requests written to the prediction log."),
]
_MISSING = Annotated[
    list[str] | None,
    typer.Option("--allow-missing", help="An input column that may be null (repeatable)."),
]
_POLL = Annotated[
    float | None,
    typer.Option("--poll-interval-s", help="How often servers re-read aliases and the endpoint."),
]
_FEATURES = Annotated[
    str | None,
    typer.Option(
        "--feature-service",
        help="Look the model's features up online from this feature service (requests "
        "then carry entity keys).",
    ),
]
_REASON = Annotated[str | None, typer.Option("--reason", help="Why (audited).")]
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _console() -> Any:
    from keel.cli._render import console

    return console()


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _target(text: str) -> dict[str, Any]:
    """``iris@champion=90`` -> ``{"model": "iris@champion", "weight": 90.0}``."""
    from keel.errors import InvalidArgumentError

    model, sep, weight = text.partition("=")
    if not sep:
        return {"model": model}
    try:
        return {"model": model, "weight": float(weight)}
    except ValueError:
        raise InvalidArgumentError(
            f"--target {text!r}: the weight {weight!r} is not a number; write MODEL=WEIGHT "
            "(iris@champion=90)"
        ) from None


def _flags(
    target: list[str] | None,
    shadow: str | None,
    shadow_sample_rate: float | None,
    no_shadow: bool,
    sticky_header: str | None,
    max_rows: int | None,
    max_body_bytes: int | None,
    timeout_s: float | None,
    batching: bool | None,
    max_batch_rows: int | None,
    max_wait_ms: float | None,
    log_sample_rate: float | None,
    allow_missing: list[str] | None,
    poll_interval_s: float | None,
    feature_service: str | None = None,
) -> dict[str, Any]:
    """The settings the flags give, as a (partial) spec mapping."""
    from keel.errors import InvalidArgumentError

    out: dict[str, Any] = {}
    if target:
        out["targets"] = [_target(t) for t in target]
    if no_shadow and (shadow or shadow_sample_rate is not None):
        raise InvalidArgumentError("--no-shadow cannot be given with --shadow options")
    if no_shadow:
        out["shadow"] = None
    shadow_settings = {
        k: v for k, v in (("model", shadow), ("sample_rate", shadow_sample_rate)) if v is not None
    }
    if shadow_settings:
        out["shadow"] = shadow_settings
    limits = {
        k: v
        for k, v in (
            ("max_rows", max_rows),
            ("max_body_bytes", max_body_bytes),
            ("timeout_s", timeout_s),
        )
        if v is not None
    }
    if limits:
        out["limits"] = limits
    batch = {
        k: v
        for k, v in (
            ("enabled", batching),
            ("max_batch_rows", max_batch_rows),
            ("max_wait_ms", max_wait_ms),
        )
        if v is not None
    }
    if batch:
        out["batching"] = batch
    for key, value in (
        ("sticky_header", sticky_header),
        ("log_sample_rate", log_sample_rate),
        ("poll_interval_s", poll_interval_s),
        ("feature_service", feature_service),
        ("allow_missing", allow_missing or None),
    ):
        if value is not None:
            out[key] = value
    return out


def _from_file(path: Path, name: str | None) -> dict[str, Any]:
    from keel.serving._spec import load_endpoint_specs

    specs = load_endpoint_specs(path, default_name=name)
    if len(specs) != 1:
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"{path} holds {len(specs)} endpoints; give one endpoint per command"
        )
    data: dict[str, Any] = specs[0].model_dump(mode="json", exclude_unset=True)
    return data


def _summary(e: Endpoint) -> str:
    targets = e.spec.get("targets") or []
    total = sum(float(t.get("weight", 1.0)) for t in targets) or 1.0
    parts = [f"{t['model']} ({100 * float(t.get('weight', 1.0)) / total:.0f}%)" for t in targets]
    shadow = e.spec.get("shadow")
    if shadow:
        parts.append(f"shadow {shadow['model']}")
    if e.spec.get("feature_service"):
        parts.append(f"features from {e.spec['feature_service']}")
    return ", ".join(parts)


def _said(action: str, e: Endpoint) -> None:
    _console().print(
        f"{action} endpoint {e.name} (revision {e.revision}): {_summary(e)}; resolves to "
        f"{', '.join(e.model_versions) or 'nothing'}",
        highlight=False,
        soft_wrap=True,
    )


def _as_dict(e: Endpoint) -> dict[str, Any]:
    return {
        "name": e.name,
        "revision": e.revision,
        "spec": dict(e.spec),
        "model_versions": list(e.model_versions),
        "created_at": e.created_at,
        "created_by": e.created_by,
        "updated_at": e.updated_at,
        "updated_by": e.updated_by,
        "reason": e.reason,
    }


def _revision_dict(r: EndpointRevision) -> dict[str, Any]:
    return {
        "revision": r.revision,
        "action": r.action,
        "actor": r.actor,
        "time": r.time,
        "reason": r.reason,
        "model_versions": list(r.model_versions),
        "spec": None if r.spec is None else dict(r.spec),
    }


@endpoints_app.command("create")
def endpoints_create(
    name: Annotated[
        str | None, typer.Argument(help="The endpoint's name (or the file's `name`).")
    ] = None,
    file: _FILE = None,
    target: _TARGET = None,
    shadow: _SHADOW = None,
    shadow_sample_rate: _SHADOW_RATE = None,
    sticky_header: _STICKY = None,
    max_rows: _MAX_ROWS = None,
    max_body_bytes: _MAX_BODY = None,
    timeout_s: _TIMEOUT = None,
    batching: _BATCHING = None,
    max_batch_rows: _BATCH_ROWS = None,
    max_wait_ms: _WAIT = None,
    log_sample_rate: _LOG_RATE = None,
    allow_missing: _MISSING = None,
    poll_interval_s: _POLL = None,
    feature_service: _FEATURES = None,
    reason: _REASON = None,
) -> None:
    """Store a new endpoint. Examples: keel endpoints create -f endpoint.yaml;
    keel endpoints create iris --target iris@champion=90 --target iris@challenger=10."""
    from keel.errors import InvalidArgumentError
    from keel.serving._endpoints import create_endpoint, merge_changes

    data: dict[str, Any] = _from_file(file, name) if file is not None else {}
    data = merge_changes(
        data,
        _flags(
            target,
            shadow,
            shadow_sample_rate,
            False,
            sticky_header,
            max_rows,
            max_body_bytes,
            timeout_s,
            batching,
            max_batch_rows,
            max_wait_ms,
            log_sample_rate,
            allow_missing,
            poll_interval_s,
            feature_service,
        ),
    )
    if name is not None:
        if data.get("name", name) != name:
            raise InvalidArgumentError(
                f"{file} names endpoint {data['name']!r}, not {name!r}; use one name for both"
            )
        data["name"] = name
    if "name" not in data:
        raise InvalidArgumentError(
            "give the endpoint a name: keel endpoints create NAME --target MODEL, or a file "
            "with name: ..."
        )
    if not data.get("targets"):
        raise InvalidArgumentError(
            f"endpoint {data['name']!r} needs at least one target: --target iris@champion, or "
            "targets: in the file"
        )
    _said("created", create_endpoint(data, reason=reason))


@endpoints_app.command("update")
def endpoints_update(
    name: Annotated[str, typer.Argument(help="The endpoint.")],
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A whole new spec (YAML); flags are laid over it."),
    ] = None,
    target: _TARGET = None,
    shadow: _SHADOW = None,
    shadow_sample_rate: _SHADOW_RATE = None,
    no_shadow: _NO_SHADOW = False,
    sticky_header: _STICKY = None,
    max_rows: _MAX_ROWS = None,
    max_body_bytes: _MAX_BODY = None,
    timeout_s: _TIMEOUT = None,
    batching: _BATCHING = None,
    max_batch_rows: _BATCH_ROWS = None,
    max_wait_ms: _WAIT = None,
    log_sample_rate: _LOG_RATE = None,
    allow_missing: _MISSING = None,
    poll_interval_s: _POLL = None,
    feature_service: _FEATURES = None,
    revision: Annotated[
        int | None,
        typer.Option("--revision", help="Fail unless the endpoint is still at this revision."),
    ] = None,
    reason: _REASON = None,
) -> None:
    """Change a stored endpoint; running servers switch to it within their poll interval.
    Example: keel endpoints update iris --target iris@champion=50 --target iris@challenger=50."""
    from keel.errors import InvalidArgumentError
    from keel.serving._endpoints import get_endpoint, merge_changes, update_endpoint

    flags = _flags(
        target,
        shadow,
        shadow_sample_rate,
        no_shadow,
        sticky_header,
        max_rows,
        max_body_bytes,
        timeout_s,
        batching,
        max_batch_rows,
        max_wait_ms,
        log_sample_rate,
        allow_missing,
        poll_interval_s,
        feature_service,
    )
    if file is None and not flags:
        raise InvalidArgumentError(
            f"nothing to change in endpoint {name!r}: give --file or a setting such as --target"
        )
    before = get_endpoint(name)
    if file is not None:
        changed = update_endpoint(
            name,
            merge_changes(_from_file(file, name), flags),
            replace=True,
            expected_revision=revision if revision is not None else before.revision,
            reason=reason,
        )
    else:
        changed = update_endpoint(
            name,
            flags,
            expected_revision=revision if revision is not None else before.revision,
            reason=reason,
        )
    if changed.revision == before.revision:
        _console().print(f"endpoint {name} is unchanged (revision {before.revision})")
        return
    _said("updated", changed)


@endpoints_app.command("show")
def endpoints_show(
    name: Annotated[str, typer.Argument(help="The endpoint.")],
    history: Annotated[bool, typer.Option("--history", help="Every revision, too.")] = False,
    json_out: _JSON = False,
) -> None:
    """Show a stored endpoint: its revision, spec (YAML) and the versions it resolved to."""
    import yaml
    from rich.markup import escape

    from keel.errors import NotFoundError
    from keel.serving._endpoints import endpoint_history, get_endpoint

    try:
        e: Endpoint | None = get_endpoint(name)
    except NotFoundError:
        if not history:
            raise
        e = None  # a deleted endpoint still has its history
    revisions = endpoint_history(name) if history else []
    if json_out:
        out: dict[str, Any] = _as_dict(e) if e is not None else {"name": name, "deleted": True}
        if history:
            out["history"] = [_revision_dict(r) for r in revisions]
        typer.echo(json.dumps(out, indent=2))
        return
    console = _console()
    if e is not None:
        console.print(f"[bold]{escape(e.name)}[/]  revision {e.revision}", highlight=False)
        console.print(
            f"updated {_time(e.updated_at)} by {escape(e.updated_by)}"
            + (f" ({escape(e.reason)})" if e.reason else "")
            + f"; created {_time(e.created_at)} by {escape(e.created_by)}",
            highlight=False,
        )
        console.print(f"resolves to: {', '.join(e.model_versions) or '-'}", highlight=False)
        console.print(escape(yaml.safe_dump({"name": e.name, **e.spec}, sort_keys=False)))
    else:
        console.print(f"endpoint {escape(name)} is deleted", highlight=False)
    if history:
        from rich.table import Table

        table = Table(title=f"{name}: {len(revisions)} revision(s)")
        for col in ("revision", "action", "by", "time", "versions", "reason"):
            table.add_column(col)
        for r in revisions:
            table.add_row(
                str(r.revision),
                r.action,
                r.actor,
                _time(r.time),
                ", ".join(r.model_versions) or "-",
                r.reason or "",
            )
        console.print(table)


@endpoints_app.command("list")
def endpoints_list(json_out: _JSON = False) -> None:
    """List the stored endpoints of the project."""
    from rich.table import Table

    from keel.serving._endpoints import list_endpoints

    found = list_endpoints()
    if json_out:
        typer.echo(json.dumps([_as_dict(e) for e in found], indent=2))
        return
    table = Table(title=f"Endpoints ({len(found)})")
    for col in ("name", "revision", "serves", "resolves to", "updated", "by"):
        table.add_column(col)
    for e in found:
        table.add_row(
            e.name,
            str(e.revision),
            _summary(e),
            ", ".join(e.model_versions),
            _time(e.updated_at),
            e.updated_by,
        )
    _console().print(table)


@endpoints_app.command("delete")
def endpoints_delete(
    name: Annotated[str, typer.Argument(help="The endpoint.")],
    revision: Annotated[
        int | None,
        typer.Option("--revision", help="Fail unless the endpoint is still at this revision."),
    ] = None,
    reason: _REASON = None,
) -> None:
    """Delete a stored endpoint (its history stays; running servers keep their last revision)."""
    from keel.serving._endpoints import delete_endpoint

    delete_endpoint(name, expected_revision=revision, reason=reason)
    _console().print(f"deleted endpoint {name}")


@endpoints_app.command("log")
def endpoints_log(
    name: Annotated[str, typer.Argument(help="The endpoint (stored or implicit).")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="How far back: 30m, 1h, 7d or an ISO date (default: all)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="The newest N requests shown.")
    ] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show an endpoint's prediction log, newest last. Example: keel endpoints log iris --since 1h."""
    from rich.markup import escape
    from rich.table import Table

    from keel.context import current_context
    from keel.serving._endpoints import endpoint_log
    from keel.serving._predlog import log_root

    frame = endpoint_log(name, since=since)
    if frame.empty:
        where = log_root(current_context())
        _console().print(
            f"no predictions logged for endpoint {escape(name)}"
            + (f" in the last {escape(since)}" if since else "")
            + f" (logs under {escape(where)})",
            highlight=False,
        )
        return
    total = len(frame)
    frame = frame.tail(limit)
    if json_out:
        for record in frame.to_dict(orient="records"):
            record["time"] = record["time"].isoformat()
            record.pop("date", None)
            typer.echo(json.dumps(record, default=str))
        return
    table = Table(title=f"{name}: the last {len(frame)} of {total} logged request(s)")
    for col in ("time", "request id", "version", "rows", "outputs", "ms", "shadow"):
        table.add_column(col)
    for r in frame.itertuples():
        shadow = "-"
        if getattr(r, "shadow_version", None):
            agreement = r.shadow_agreement
            shadow = f"{r.shadow_version} " + (
                f"agrees {agreement:.0%}"
                if agreement == agreement and agreement is not None
                else f"error: {str(r.shadow_error)[:40]}"
            )
        outputs = str(r.outputs)
        table.add_row(
            r.time.strftime("%Y-%m-%d %H:%M:%S"),
            r.request_id,
            r.model_version,
            str(r.rows),
            outputs if len(outputs) <= 40 else outputs[:37] + "...",
            f"{r.latency_ms:.1f}",
            shadow,
        )
    _console().print(table)
