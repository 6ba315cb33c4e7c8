"""``keel lineage REF``: the upstream and downstream tree of a model version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from keel.store import LineageGraph, LineageNode

__all__ = ["lineage"]

_STYLE = {
    "source": "magenta",
    "dataset_version": "cyan",
    "pipeline_run": "blue",
    "step_run": "blue",
    "run": "yellow",
    "model_version": "bold green",
    "endpoint": "red",
    "feature_view": "bright_cyan",
    "feature_service": "bright_cyan",
    "entity": "bright_cyan",
}


def _label(node: LineageNode, relation: str = "") -> str:
    from rich.markup import escape

    style = _STYLE.get(node.kind)
    name = node.label or node.id
    rel = f"[dim]{escape(relation)}[/] " if relation else ""
    ident = f" [dim]({escape(node.id)})[/]" if node.label and node.label != node.id else ""
    kind = f"[{style}]{escape(node.kind)}[/]" if style else escape(node.kind)
    return f"{rel}{kind} {escape(name)}{ident}"


def _tree(graph: LineageGraph, up: bool, title: str) -> Any:
    from rich.tree import Tree

    children: dict[tuple[str, str], list[tuple[LineageNode, str]]] = {}
    for e in graph.edges:
        near, far = (e.target, e.source) if up else (e.source, e.target)
        children.setdefault((near.kind, near.id), []).append((far, e.relation))
    root = Tree(f"{title}: {_label(graph.root)}")

    def grow(branch: Any, node: LineageNode, path: frozenset[tuple[str, str]]) -> None:
        for far, relation in sorted(
            children.get((node.kind, node.id), []), key=lambda item: (item[0].kind, item[0].id)
        ):
            key = (far.kind, far.id)
            if key in path:
                continue
            grow(branch.add(_label(far, relation)), far, path | {key})

    grow(root, graph.root, frozenset({(graph.root.kind, graph.root.id)}))
    if not children.get((graph.root.kind, graph.root.id)):
        root.add("[dim]nothing recorded[/]")
    return root


def lineage(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="REF", help="A model reference: iris@champion, iris/3, iris@latest."
        ),
    ],
    json_out: Annotated[bool, typer.Option("--json", help="Print the graph as JSON.")] = False,
) -> None:
    """Show where a model version came from (sources, datasets, runs) and what uses it."""
    from keel.cli._render import console
    from keel.registry import model_lineage

    graph = model_lineage(uri)
    if json_out:
        typer.echo(json.dumps(graph.to_dict(), indent=2))
        return
    out = console()
    out.print(_tree(graph.upstream, up=True, title="upstream"))
    out.print(_tree(graph.downstream, up=False, title="downstream"))
