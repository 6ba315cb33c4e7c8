"""Lineage on SQL: edges and node labels, walked breadth-first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.store._lineage import LineageEdge, LineageGraph, LineageNode, LineageStore
from keel.store._sql._database import Database
from keel.store._sql._lineage_rows import lineage_edges as _edges, lineage_nodes as _nodes

__all__ = ["SqlLineageStore", "write_edges"]


def write_edges(db: Database, conn: Connection, edges: Sequence[LineageEdge], project: str) -> None:
    """Record edges of ``project`` and their nodes' labels inside the caller's transaction.

    Other domains call this so that an object and its lineage are written together.
    Recording an edge twice is a no-op; an empty label never overwrites a known one.
    """
    if not edges:
        return
    now = now_ms()
    nodes: dict[tuple[str, str], str] = {}
    for e in edges:
        for n in (e.source, e.target):
            if n.label or (n.kind, n.id) not in nodes:
                nodes[(n.kind, n.id)] = n.label or nodes.get((n.kind, n.id), "")
    stmt = db.insert(_nodes)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["project", "kind", "id"],
            set_={"label": stmt.excluded.label},
            where=stmt.excluded.label != "",
        ),
        [
            {"project": project, "kind": k, "id": i, "label": label}
            for (k, i), label in nodes.items()
        ],
    )
    conn.execute(
        db.insert(_edges).on_conflict_do_nothing(),
        [
            {
                "project": project,
                "src_kind": e.source.kind,
                "src_id": e.source.id,
                "dst_kind": e.target.kind,
                "dst_id": e.target.id,
                "relation": e.relation,
                "created_at": e.created_at or now,
            }
            for e in edges
        ],
    )


class SqlLineageStore(LineageStore):
    """:class:`LineageStore` over SQLAlchemy Core."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        if not edges:
            return
        with self._db.write() as conn:
            write_edges(self._db, conn, edges, self._project)

    def _walk(self, root: LineageNode, up: bool, max_depth: int) -> LineageGraph:
        seen: set[tuple[str, str]] = {(root.kind, root.id)}
        frontier = [(root.kind, root.id)]
        raw_edges: list[Any] = []
        with self._db.read() as conn:
            for _ in range(max_depth):
                if not frontier:
                    break
                near_kind, near_id = (
                    (_edges.c.dst_kind, _edges.c.dst_id)
                    if up
                    else (_edges.c.src_kind, _edges.c.src_id)
                )
                cond = sa.or_(*[sa.and_(near_kind == k, near_id == i) for k, i in frontier])
                rows = conn.execute(
                    sa.select(_edges).where(_edges.c.project == self._project, cond)
                ).all()
                frontier = []
                for r in rows:
                    raw_edges.append(r)
                    far = (r.src_kind, r.src_id) if up else (r.dst_kind, r.dst_id)
                    if far not in seen:
                        seen.add(far)
                        frontier.append(far)
            labels: dict[tuple[str, str], str] = {}
            keys = list(seen)
            for i in range(0, len(keys), 200):
                chunk = keys[i : i + 200]
                cond = sa.or_(*[sa.and_(_nodes.c.kind == k, _nodes.c.id == n) for k, n in chunk])
                for r in conn.execute(
                    sa.select(_nodes).where(_nodes.c.project == self._project, cond)
                ):
                    labels[(r.kind, r.id)] = r.label

        def node(kind: str, id_: str) -> LineageNode:
            return LineageNode(kind, id_, labels.get((kind, id_), ""))

        edges = tuple(
            LineageEdge(
                node(r.src_kind, r.src_id), node(r.dst_kind, r.dst_id), r.relation, r.created_at
            )
            for r in raw_edges
        )
        return LineageGraph(
            root=node(root.kind, root.id),
            nodes=tuple(node(k, i) for k, i in sorted(seen)),
            edges=edges,
        )

    def upstream(self, node: LineageNode, max_depth: int = 50) -> LineageGraph:
        return self._walk(node, up=True, max_depth=max_depth)

    def downstream(self, node: LineageNode, max_depth: int = 50) -> LineageGraph:
        return self._walk(node, up=False, max_depth=max_depth)
