"""The LineageStore contract on every backend."""

from __future__ import annotations

from keel.store import LineageEdge, LineageNode, Store


def test_upstream_and_downstream_walks(store: Store) -> None:
    raw = LineageNode("source", "file:///data/iris.csv", "iris.csv")
    ds = LineageNode("dataset_version", "d1", "iris@1")
    split = LineageNode("dataset_version", "d2", "iris-train@1")
    run = LineageNode("run", "r1", "rf")
    model = LineageNode("model_version", "m1", "iris/1")
    other = LineageNode("run", "r2", "unrelated")
    store.lineage.add_edges(
        [
            LineageEdge(raw, ds, "ingested_into"),
            LineageEdge(ds, split, "split_into"),
            LineageEdge(split, run, "trained_on"),
            LineageEdge(run, model, "produced"),
        ]
    )
    store.lineage.add_edges([LineageEdge(raw, ds, "ingested_into")])  # idempotent
    store.lineage.add_edges([LineageEdge(LineageNode("run", "r2"), LineageNode("run", "r3"), "x")])

    up = store.lineage.upstream(LineageNode("model_version", "m1"))
    assert {n.label for n in up.nodes} == {"iris.csv", "iris@1", "iris-train@1", "rf", "iris/1"}
    assert len(up.edges) == 4
    assert other not in up.nodes
    down = store.lineage.downstream(raw)
    assert {e.relation for e in down.edges} == {
        "ingested_into",
        "split_into",
        "trained_on",
        "produced",
    }
    shallow = store.lineage.upstream(model, max_depth=1)
    assert {n.id for n in shallow.nodes} == {"m1", "r1"}
    data = up.to_dict()
    assert data["root"]["label"] == "iris/1"
    assert {"source", "target", "relation", "created_at"} <= set(data["edges"][0])
