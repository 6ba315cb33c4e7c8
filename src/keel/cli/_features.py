"""``keel features apply|diff|list|show``: declared features, registered as versions.

``apply PATH`` (a YAML or Python file, or a folder of them) shows what changes and
registers it; ``diff PATH`` only shows it; ``list`` and ``show`` read what is
registered.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.features import FeaturePlan
    from keel.store import FeatureDefinition

__all__ = ["features_app"]

features_app = typer.Typer(
    help="The feature store: entities, feature views and feature services, versioned.",
    no_args_is_help=True,
)

_PATH = Annotated[
    Path, typer.Argument(help="A .yaml or .py file of declarations, or a folder of them.")
]
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_KINDS = {"entity": "entity", "view": "feature_view", "service": "feature_service"}


def _console() -> Any:
    from keel.cli._render import console

    return console()


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_plan(the_plan: FeaturePlan, *, show_unchanged: bool = False) -> None:
    out = _console()
    for change in the_plan.changes:
        if change.action == "unchanged" and not show_unchanged:
            continue
        line = change.describe()
        if change.action == "remove" and not the_plan.pruned:
            line += "  (kept; --prune retires it)"
        elif change.version is not None and change.action != "unchanged":
            line += f"  -> version {change.version}"
        style = {"add": "green", "change": "yellow", "remove": "red"}.get(change.action)
        out.print(line, style=style, highlight=False, soft_wrap=True)
    out.print(the_plan.summary(), highlight=False)


@features_app.command("apply")
def features_apply(
    path: _PATH,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Also retire registered definitions that PATH no longer declares."
        ),
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    as_json: _JSON = False,
) -> None:
    """Register what changed in PATH as new versions (all or nothing). Example:
    keel features apply features/"""
    from keel.features import apply

    the_plan = apply(path, prune=prune, reason=reason)
    if as_json:
        typer.echo(json.dumps(the_plan.to_dict(), indent=2))
        return
    _print_plan(the_plan)


@features_app.command("diff")
def features_diff(path: _PATH, as_json: _JSON = False) -> None:
    """Show what `keel features apply PATH` would change (nothing is written)."""
    from keel.features import plan

    the_plan = plan(path)
    if as_json:
        typer.echo(json.dumps(the_plan.to_dict(), indent=2))
        return
    _print_plan(the_plan, show_unchanged=True)


def _row(d: FeatureDefinition) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "name": d.name,
        "version": d.version,
        "spec": None if d.spec is None else dict(d.spec),
        "created_at": d.created_at,
        "created_by": d.created_by,
        "reason": d.reason,
    }


def _summary(d: FeatureDefinition) -> str:
    from keel.features import format_ttl

    spec = d.spec or {}
    if d.kind == "entity":
        return ", ".join(f"{k['name']} ({k['dtype']})" for k in spec.get("join_keys", []))
    if d.kind == "feature_view":
        source = spec.get("source") or {}
        where = source.get("dataset") or source.get("parquet") or "sql"
        features = ", ".join(f["name"] for f in spec.get("features", []))
        return (
            f"{', '.join(spec.get('entities', []))} | {features} | ttl "
            f"{format_ttl(spec.get('ttl'))} | {where}"
        )
    return ", ".join(spec.get("features", []))


@features_app.command("list")
def features_list(
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only entity, view or service.")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """The registered entities, feature views and feature services (latest versions)."""
    from rich.table import Table

    from keel.errors import InvalidArgumentError
    from keel.features import list_definitions

    if kind is not None and kind not in _KINDS:
        raise InvalidArgumentError(f"--kind {kind!r}: use one of {', '.join(_KINDS)}")
    found = list_definitions(None if kind is None else _KINDS[kind])
    if as_json:
        typer.echo(json.dumps([_row(d) for d in found], indent=2))
        return
    if not found:
        _console().print("no features registered; keel features apply PATH registers them")
        return
    table = Table("kind", "name", "version", "what", "registered", "by")
    for d in found:
        table.add_row(
            d.kind.replace("_", " "),
            d.name,
            str(d.version),
            _summary(d),
            _time(d.created_at),
            d.created_by,
        )
    _console().print(table)


@features_app.command("show")
def features_show(
    name: Annotated[str, typer.Argument(help="A feature view, entity or feature service.")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="entity, view or service (when names repeat).")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="A version (default: latest).")
    ] = None,
    history: Annotated[bool, typer.Option("--history", help="Every version.")] = False,
    as_json: _JSON = False,
) -> None:
    """One definition (a view by default): its declaration, version and history."""
    import yaml

    from keel.context import current_context
    from keel.errors import InvalidArgumentError, NotFoundError
    from keel.features import FeatureNotFoundError

    store = current_context().store.features
    kinds = [_KINDS[kind]] if kind in _KINDS else list(_KINDS.values())
    if kind is not None and kind not in _KINDS:
        raise InvalidArgumentError(f"--kind {kind!r}: use one of {', '.join(_KINDS)}")
    found: list[FeatureDefinition] = []
    errors: list[str] = []
    for k in kinds:
        try:
            if history:
                found = store.list_definition_versions(k, name)
            else:
                found = [store.get_definition(k, name, version)]
            break
        except NotFoundError as exc:
            errors.append(str(exc))
    if not found:
        if len(errors) == 1:
            raise FeatureNotFoundError(errors[0])
        known = [f"{d.kind.replace('_', ' ')} {d.name}" for d in store.list_definitions()]
        raise FeatureNotFoundError(
            f"no entity, feature view or feature service is called {name!r}; registered: "
            f"{', '.join(known) or 'none (keel features apply PATH registers them)'}"
        )
    if as_json:
        typer.echo(json.dumps([_row(d) for d in found] if history else _row(found[0]), indent=2))
        return
    out = _console()
    for d in found:
        state = "retired" if d.retired else "registered"
        out.print(
            f"{d.kind.replace('_', ' ')} {d.name} version {d.version}: {state} "
            f"{_time(d.created_at)} by {d.created_by}" + (f" ({d.reason})" if d.reason else ""),
            highlight=False,
            soft_wrap=True,
        )
        if d.spec is not None and not history:
            shown = dict(d.spec)
            if d.kind == "feature_view":
                from keel.features import format_ttl

                shown["ttl"] = format_ttl(shown.get("ttl"))
            out.print(yaml.safe_dump(shown, sort_keys=False).rstrip(), highlight=False)


# the online store's commands live in their own module
from keel.cli._features_online import register_online_commands  # noqa: E402

register_online_commands(features_app)
