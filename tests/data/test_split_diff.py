"""Splits as derived versions with lineage, and diffs between versions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import keel
from keel.errors import InvalidArgumentError


@pytest.fixture
def parent(client):
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "label": rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1]),
            "customer": rng.integers(0, 40, size=n),
            "at": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    return keel.datasets.register(df, "events")


def test_random_split_sizes_lineage_and_reproducibility(client, parent) -> None:
    parts = keel.datasets.split("events", seed=7)
    assert {k: (v.name, v.num_rows) for k, v in parts.items()} == {
        "train": ("events-train", 420),
        "validation": ("events-validation", 90),
        "test": ("events-test", 90),
    }
    frames = {k: v.to_pandas() for k, v in parts.items()}
    together = pd.concat(frames.values()).sort_values("at").reset_index(drop=True)
    pd.testing.assert_frame_equal(together, parent.to_pandas())
    for v in parts.values():
        assert v.parent_ids == (parent.id,)
        assert v.derivation["kind"] == "split" and v.derivation["seed"] == 7
    graph = client.store.lineage.downstream(parent.lineage_node())
    assert sorted((e.target.label, e.relation) for e in graph.edges) == [
        ("events-test/1", "split_into"),
        ("events-train/1", "split_into"),
        ("events-validation/1", "split_into"),
    ]
    again = keel.datasets.split(parent, seed=7)
    assert {k: v.id for k, v in again.items()} == {k: v.id for k, v in parts.items()}
    other = keel.datasets.split(parent, seed=8)
    assert other["train"].version == 2


def test_stratified_split_keeps_proportions(client, parent) -> None:
    parts = keel.datasets.split(parent, {"train": 0.8, "test": 0.2}, seed=1, stratify="label")
    whole = parent.to_pandas()["label"].value_counts()
    test = parts["test"].to_pandas()["label"].value_counts()
    for label, count in whole.items():
        assert abs(test[label] - round(count * 0.2)) <= 1


def test_grouped_split_keeps_groups_together(client, parent) -> None:
    parts = keel.datasets.split(parent, {"train": 0.75, "test": 0.25}, group="customer")
    train = set(parts["train"].to_pandas()["customer"])
    test = set(parts["test"].to_pandas()["customer"])
    assert train and test and not train & test
    assert parts["train"].num_rows + parts["test"].num_rows == 600


def test_time_split_puts_latest_rows_last(client, parent) -> None:
    parts = keel.datasets.split(parent, {"train": 0.5, "validation": 0.25, "test": 0.25}, time="at")
    train, val, test = (parts[k].to_pandas()["at"] for k in ("train", "validation", "test"))
    assert train.max() < val.min() and val.max() < test.min()


def test_split_argument_errors(client, parent) -> None:
    with pytest.raises(InvalidArgumentError, match="add up to 1"):
        keel.datasets.split(parent, {"train": 0.5, "test": 0.2})
    with pytest.raises(InvalidArgumentError, match="at most one of stratify, group and time"):
        keel.datasets.split(parent, stratify="label", group="customer")
    with pytest.raises(InvalidArgumentError, match="'nope' is not a column of events/1"):
        keel.datasets.split(parent, stratify="nope")
    with pytest.raises(InvalidArgumentError, match="dataset name"):
        keel.datasets.split(parent, {"Train Set": 1.0})
    tiny = keel.datasets.register(pd.DataFrame({"x": [1, 2]}), "tiny")
    with pytest.raises(InvalidArgumentError, match="split 'test' of tiny/1 would be empty"):
        keel.datasets.split(tiny)
    assert [d.name for d in keel.datasets.list()] == ["events", "tiny"]


def test_diff_schema_changes_and_shifts(client, parent) -> None:
    df = parent.to_pandas()
    changed = df.drop(columns=["customer"]).assign(x=df["x"] + 1.0, score=1.5)
    changed.loc[:99, "label"] = None
    keel.datasets.register(changed, "events")
    d = keel.datasets.diff("events/1", "events/2")
    assert (d.a, d.b, d.same_content, d.rows) == ("events/1", "events/2", False, (600, 600))
    assert {(c.column, c.change) for c in d.schema_changes} == {
        ("score", "added"),
        ("customer", "removed"),
        ("label", "nullability_changed"),
    }
    significant = {(s.column, s.metric) for s in d.significant_shifts}
    assert ("x", "mean") in significant
    assert ("label", "null_fraction") in significant
    assert ("at", "min") not in significant
    assert d.to_dict()["shifts"]
    assert keel.datasets.diff(parent, parent).same_content
