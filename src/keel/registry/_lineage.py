"""The lineage of a model version: what it was made from and what uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keel.context import Context, current_context
from keel.registry._uri import resolve_version
from keel.store import LineageGraph, ModelVersion

__all__ = ["ModelLineage", "model_lineage"]


@dataclass(frozen=True, slots=True)
class ModelLineage:
    """Upstream (sources, datasets, steps, runs) and downstream (endpoints) of a version."""

    version: ModelVersion
    upstream: LineageGraph
    downstream: LineageGraph

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API and UI: ``{"model", "upstream", "downstream"}``."""
        return {
            "model": self.version.uri,
            "upstream": self.upstream.to_dict(),
            "downstream": self.downstream.to_dict(),
        }


def model_lineage(uri: str, *, context: Context | None = None) -> ModelLineage:
    """The lineage graph of the version ``uri`` names, as data.

    Args:
        uri: a model reference (``iris/3``, ``iris@champion``).
        context: where to look (:func:`keel.context.current_context` by default).

    Example::

        >>> g = keel.models.lineage("iris@champion")
        >>> [n.kind for n in g.upstream.nodes]
        ['dataset_version', 'model_version', 'run', 'source']
    """
    store = (context or current_context()).store
    version = resolve_version(store, uri)
    node = version.lineage_node()
    return ModelLineage(version, store.lineage.upstream(node), store.lineage.downstream(node))
