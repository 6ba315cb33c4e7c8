"""Lineage entities and interface: a graph of what was made from what.

Nodes are typed references to keel objects (``source``, ``dataset_version``,
``pipeline_run``, ``step_run``, ``run``, ``model_version``, ``endpoint``); an edge
says the target was made from (or used) the source. Edges are written when the thing
happens, never reconstructed later.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LineageEdge", "LineageGraph", "LineageNode", "LineageStore"]


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A reference to one keel object: its kind and id, with a human label."""

    kind: str
    id: str
    label: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.kind}:{self.label or self.id}"


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """``source`` -[relation]-> ``target``: the target was made from or used the source."""

    source: LineageNode
    target: LineageNode
    relation: str
    created_at: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """A connected part of the lineage graph, as data (for the CLI, API and UI)."""

    root: LineageNode
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"root": ..., "nodes": [...], "edges": [...]}``."""

        def node(n: LineageNode) -> dict[str, str]:
            return {"kind": n.kind, "id": n.id, "label": n.label}

        return {
            "root": node(self.root),
            "nodes": [node(n) for n in self.nodes],
            "edges": [
                {
                    "source": node(e.source),
                    "target": node(e.target),
                    "relation": e.relation,
                    "created_at": e.created_at,
                }
                for e in self.edges
            ],
        }


class LineageStore(abc.ABC):
    """Lineage edges between keel objects."""

    @abc.abstractmethod
    def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        """Record edges (and their nodes' labels); recording an edge twice is a no-op."""

    @abc.abstractmethod
    def upstream(self, node: LineageNode, max_depth: int = 50) -> LineageGraph:
        """Everything ``node`` was made from, transitively."""

    @abc.abstractmethod
    def downstream(self, node: LineageNode, max_depth: int = 50) -> LineageGraph:
        """Everything made from ``node``, transitively."""
