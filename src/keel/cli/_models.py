"""``keel models ...``: list, show, versions, load-check, archive, promote, rollback, history.

Every command names models by reference: ``iris/3`` is a version, ``iris@champion`` an
alias (docs/concepts/references.md). The former ``-v/--version`` and ``--alias``
options still work for one release, with a one-line deprecation notice on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.context import Context
    from keel.store import GateResult, ModelVersion

__all__ = ["models_app", "render_gate"]

models_app = typer.Typer(
    help="Registered models: versions, aliases, promotion, rollback.", no_args_is_help=True
)


def _context() -> Context:
    from keel.context import current_context

    return current_context()


_REFS = "see docs/concepts/references.md"


def _deprecated(old: str, new: str) -> None:
    """One line on stderr: the old spelling still works for this release; the new one."""
    import sys

    print(f"deprecated: {old} will be removed in the next release; write: {new}", file=sys.stderr)


def _reference_with_version(command: str, ref: str, version: int | None, rest: str) -> str:
    """``iris/3`` from ``iris/3``, or from the deprecated ``iris -v 3`` (with a notice)."""
    from keel.errors import InvalidArgumentError

    if version is None:
        return ref
    if "/" in ref or "@" in ref:
        raise InvalidArgumentError(
            f"{ref!r} is already a reference; drop -v/--version: keel models {command} {ref}{rest}"
        )
    new = f"{ref}/{version}"
    _deprecated(f"keel models {command} NAME -v N", f"keel models {command} {new}{rest}")
    return new


def _alias_reference(command: str, ref: str, alias: str | None, default: str | None) -> str:
    """``iris@champion`` from ``iris@champion``, or from the deprecated ``iris --alias champion``."""
    from keel.errors import InvalidArgumentError

    if "@" in ref:
        if alias is not None:
            raise InvalidArgumentError(
                f"{ref!r} already names an alias; drop --alias: keel models {command} {ref}"
            )
        return ref
    if "/" in ref:
        raise InvalidArgumentError(
            f"keel models {command} takes an alias reference such as iris@champion, not the "
            f"version {ref!r} ({_REFS})"
        )
    if alias is None and default is None:
        return ref
    new = f"{ref}@{alias or default}"
    old = f"keel models {command} NAME" + (" --alias ALIAS" if alias is not None else "")
    _deprecated(old, f"keel models {command} {new}")
    return new


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _console() -> Any:
    from keel.cli._render import console

    return console()


def _fmt(value: Any) -> str:
    from keel.cli._render import format_value

    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "-" if value is None else format_value(value)


def render_gate(gate: GateResult) -> None:
    """A table of a gate result: each check with value, bound, verdict and why."""
    from rich.markup import escape
    from rich.table import Table

    state = "[green]PASSED[/]" if gate.passed else "[red]FAILED[/]"
    if gate.forced:
        state += " [yellow](forced)[/]"
    table = Table(title=f"gate {gate.id[:12]}: {gate.name}/{gate.version} -> @{gate.alias} {state}")
    for col in ("check", "value", "bound", "verdict", "detail"):
        table.add_column(col, overflow="fold")
    for c in gate.checks:
        verdict = "[green]pass[/]" if c.passed else "[red]fail[/]"
        table.add_row(
            escape(c.check), escape(_fmt(c.value)), escape(c.bound), verdict, escape(c.detail)
        )
    _console().print(table)


def _render_version(
    v: ModelVersion, aliases: list[str], gates: list[GateResult], datasets: list[str]
) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    out = _console()
    onnx = v.details.get("onnx") or {}
    onnx_text = (
        f"kept (max abs diff {onnx.get('max_abs_diff', 0):.3g})"
        if onnx.get("kept")
        else f"not kept: {onnx.get('reason', 'not attempted')}"
    )
    head = (
        f"[bold]{escape(v.uri)}[/]  {v.status.value}"
        + (f"  aliases: {', '.join('@' + a for a in aliases)}" if aliases else "")
        + f"\nrun         {v.run_id}\nflavor      {v.flavor} ({v.format})"
        f"\nclass       {escape(str(v.details.get('estimator_class', '-')))}"
        f"\nregistered  {_time(v.created_at)} by {escape(v.created_by)}"
        f"\nonnx        {escape(onnx_text)}"
        f"\ndatasets    {escape(', '.join(datasets) or '-')}"
    )
    out.print(Panel(head, title="model version", expand=False))
    sig = v.signature or {}
    if sig.get("inputs"):
        table = Table(title="signature")
        table.add_column("input")
        table.add_column("type")
        for col in sig["inputs"]:
            table.add_row(escape(str(col["name"])), col["type"])
        out.print(table)
        outputs = sig.get("outputs") or {}
        out.print(
            f"output: {outputs.get('type', '?')}"
            + (f", classes {outputs['classes']}" if outputs.get("classes") is not None else "")
        )
    if v.metrics:
        table = Table(title="metrics", show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value")
        for key in sorted(v.metrics)[:40]:
            table.add_row(escape(key), _fmt(v.metrics[key]))
        out.print(table)
    table = Table(title="files")
    for col in ("path", "role", "size", "sha256"):
        table.add_column(col)
    for f in v.files:
        table.add_row(escape(f.path), f.role, f"{f.size:,}", f.sha256[:16])
    out.print(table)
    if gates:
        out.print(f"gate results: {len(gates)}; latest:")
        render_gate(gates[-1])


@models_app.command("list")
def models_list(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered models with their latest version and aliases."""
    from rich.table import Table

    models = _context().store.registry.list_models()
    if json_out:
        typer.echo(
            json.dumps(
                [
                    {"name": m.name, "latest_version": m.latest_version, "aliases": dict(m.aliases)}
                    for m in models
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"Models ({len(models)})")
    for col in ("name", "latest", "aliases", "created", "by"):
        table.add_column(col)
    for m in models:
        table.add_row(
            m.name,
            str(m.latest_version),
            ", ".join(f"@{a}={v}" for a, v in m.aliases.items()) or "-",
            _time(m.created_at),
            m.created_by,
        )
    _console().print(table)


@models_app.command("versions")
def models_versions(name: Annotated[str, typer.Argument(help="Model name.")]) -> None:
    """List the versions of a model."""
    from rich.table import Table

    if "/" in name or "@" in name:
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"keel models versions takes a model name, not the reference {name!r}; "
            f"try: keel models versions {name.split('/')[0].split('@')[0]} (or keel models "
            f"show {name})"
        )
    ctx = _context()
    versions = ctx.store.registry.list_versions(name)
    holders: dict[int, list[str]] = {}
    for a in ctx.store.registry.list_aliases(name):
        holders.setdefault(a.version, []).append("@" + a.alias)
    table = Table(title=f"{name}: {len(versions)} version(s)")
    for col in ("version", "status", "aliases", "flavor", "run", "onnx", "registered"):
        table.add_column(col)
    for v in versions:
        onnx = v.details.get("onnx") or {}
        table.add_row(
            str(v.version),
            v.status.value,
            " ".join(holders.get(v.version, [])) or "-",
            v.flavor,
            v.run_id[:12],
            "yes" if onnx.get("kept") else "no",
            _time(v.created_at),
        )
    _console().print(table)


@models_app.command("show")
def models_show(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF", help="A reference: iris/3, iris@champion, iris@latest, or a name."
        ),
    ],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    version: Annotated[
        int | None, typer.Option("--version", "-v", hidden=True, help="Deprecated: write iris/3.")
    ] = None,
) -> None:
    """Show a model version: files and sha256, signature, metrics, ONNX parity, gates."""
    from keel.registry import resolve_version

    ref = _reference_with_version("show", ref, version, "")
    ctx = _context()
    if "@" not in ref and "/" not in ref.removeprefix("models:/"):
        model = ctx.store.registry.get_model(ref)
        ref = f"{model.name}@latest"
    v = resolve_version(ctx.store, ref)
    aliases = [a.alias for a in ctx.store.registry.list_aliases(v.name) if a.version == v.version]
    gates = ctx.store.registry.list_gate_results(v.name, v.version)
    from keel.gates._checks import dataset_label

    datasets = [dataset_label(ctx, d) for d in v.datasets]
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "name": v.name,
                    "version": v.version,
                    "status": v.status.value,
                    "run_id": v.run_id,
                    "flavor": v.flavor,
                    "format": v.format,
                    "aliases": aliases,
                    "files": [
                        {"path": f.path, "role": f.role, "sha256": f.sha256, "size": f.size}
                        for f in v.files
                    ],
                    "signature": v.signature,
                    "metrics": v.metrics,
                    "datasets": datasets,
                    "onnx": v.details.get("onnx"),
                    "gates": [g.to_dict() for g in gates],
                },
                indent=2,
                default=str,
            )
        )
        return
    _render_version(v, aliases, gates, datasets)


@models_app.command("load-check")
def models_load_check(
    ref: Annotated[
        str,
        typer.Argument(metavar="REF", help="A reference: iris/3, iris@champion or iris@latest."),
    ],
    allow_pickle: Annotated[
        bool, typer.Option("--allow-pickle", help="Allow a pickled model (audited).")
    ] = False,
) -> None:
    """Verify every file's sha256, load the model and predict on its input example."""
    from keel.registry import load_input_example, load_version, read_files, resolve_version

    ctx = _context()
    out = _console()
    v = resolve_version(ctx.store, ref)
    read_files(v, context=ctx)
    for f in v.files:
        out.print(f"[green]ok[/] sha256 {f.sha256[:16]}  {f.path}")
    model = load_version(v, allow_pickle=allow_pickle, context=ctx)
    out.print(
        f"[green]ok[/] loaded {type(model).__module__}.{type(model).__qualname__} from {v.format}"
    )
    example = load_input_example(v, context=ctx)
    if example is not None and hasattr(model, "predict"):
        pred = model.predict(example)
        out.print(f"[green]ok[/] predicted {len(pred)} example row(s)")
    out.print(f"{v.ref} passes the load check")


@models_app.command("archive")
def models_archive(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="The version's reference, e.g. iris/2.")
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
) -> None:
    """Archive a version: it can no longer be promoted or served."""
    from keel.registry import archive

    v = archive(ref, reason=reason, context=_context())
    _console().print(f"{v.ref} is {v.status.value}")


@models_app.command("promote")
def models_promote(
    ref: Annotated[
        str,
        typer.Argument(metavar="REF", help="The version to promote: iris/3 (or iris@challenger)."),
    ],
    to: Annotated[str, typer.Option("--to", help="Alias to move.")] = "champion",
    policy: Annotated[str | None, typer.Option("--policy", "-p", help="Policy YAML file.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Override failing checks (admins only).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required with --force).")
    ] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", "-v", help="Deprecated: write the reference iris/3 instead."),
    ] = None,
) -> None:
    """Check a version against a policy and move the alias if every check passes."""
    from rich.markup import escape

    from keel.errors import InvalidArgumentError
    from keel.gates import PromotionRejectedError, promote

    rest = f" --to {to}" + (f" --policy {policy}" if policy else "")
    ref = _reference_with_version("promote", ref, version, rest)
    if policy is None and not force:
        raise InvalidArgumentError(
            'promote needs --policy policy.yaml (or --force --reason "..." as an admin)'
        )
    outcome = promote(ref, to=to, policy=policy, force=force, reason=reason, context=_context())
    if outcome.gate is not None:
        render_gate(outcome.gate)
    style = {"promoted": "green", "forced": "yellow", "noop": "cyan"}.get(outcome.status, "red")
    if outcome.status != "rejected":
        _console().print(f"[{style}]{outcome.status}[/]: {escape(outcome.message)}")
        return
    failed = ", ".join(c.check for c in outcome.gate.failed_checks) if outcome.gate else ""
    raise PromotionRejectedError(
        f"{outcome.name}/{outcome.version} was not promoted to @{to}; failed checks: {failed} "
        f"(gate result {outcome.gate.id if outcome.gate else '-'})"
    )


@models_app.command("rollback")
def models_rollback(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The alias: iris@champion.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    alias: Annotated[
        str | None,
        typer.Option("--alias", "-a", help="Deprecated: write the reference iris@champion."),
    ] = None,
) -> None:
    """Move an alias back to the version that held it before."""
    from keel.gates import rollback

    ref = _alias_reference("rollback", ref, alias, "champion")
    _console().print(rollback(ref, reason=reason, context=_context()).message)


@models_app.command("history")
def models_history(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="A model (iris) or one alias (iris@champion).")
    ],
    alias: Annotated[
        str | None,
        typer.Option("--alias", "-a", help="Deprecated: write the reference iris@champion."),
    ] = None,
) -> None:
    """Every alias move of a model: who, when, from which version to which, and why."""
    from rich.markup import escape
    from rich.table import Table

    ref = _alias_reference("history", ref, alias, None)
    name, _, only = ref.partition("@")
    moves = _context().store.registry.alias_history(name, only or None)
    table = Table(title=f"{name}: alias history")
    for col in ("time", "alias", "action", "from", "to", "actor", "reason", "gate"):
        table.add_column(col, overflow="fold")
    for m in moves:
        table.add_row(
            _time(m.time),
            "@" + m.alias,
            m.action,
            _fmt(m.from_version),
            _fmt(m.to_version),
            escape(m.actor),
            escape(m.reason or ""),
            (m.gate_result_id or "")[:12],
        )
    _console().print(table)


@models_app.command("delete-alias")
def models_delete_alias(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The alias: iris@challenger.")],
    alias: Annotated[
        str | None,
        typer.Argument(help="Deprecated: write the reference iris@challenger.", show_default=False),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
) -> None:
    """Delete an alias (admins only)."""
    from keel.errors import InvalidArgumentError
    from keel.gates import delete_alias

    if alias is not None and "@" not in ref:
        _deprecated(
            "keel models delete-alias NAME ALIAS", f"keel models delete-alias {ref}@{alias}"
        )
        ref = f"{ref}@{alias}"
    elif "@" not in ref:
        raise InvalidArgumentError(
            f"keel models delete-alias takes an alias reference such as {ref}@challenger ({_REFS})"
        )
    delete_alias(ref, reason=reason, context=_context())
    _console().print(f"deleted {ref}")
