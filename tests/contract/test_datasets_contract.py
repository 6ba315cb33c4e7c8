"""The DatasetStore contract, run on every backend (SQLite and PostgreSQL: the ``store`` fixture)."""

from __future__ import annotations

import threading

import pytest

from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.store import LineageNode, NewDatasetVersion


def _new(name: str, fill: str, **kw) -> NewDatasetVersion:
    return NewDatasetVersion(
        name=name,
        content_hash=fill * 64,
        size_bytes=10,
        num_rows=3,
        schema={
            "columns": [{"name": "a", "type": "integer", "arrow_type": "int64", "nullable": False}]
        },
        profile={"num_rows": 3, "columns": {"a": {"nulls": 0}}},
        source_uri="file:///data/a.csv",
        created_by="tester",
        created_at=1_000,
        **kw,
    )


def test_versions_count_up_per_name_and_dedup_by_hash(store) -> None:
    ds = store.datasets
    v1, created1 = ds.create_version(_new("sales", "a"))
    v2, created2 = ds.create_version(_new("sales", "b"))
    other, _ = ds.create_version(_new("other", "a"))
    again, created3 = ds.create_version(_new("sales", "a"))
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert (created1, created2, created3) == (True, True, False)
    assert again == v1
    assert [v.version for v in ds.list_versions("sales")] == [1, 2]


def test_record_round_trips_every_field(store) -> None:
    new = _new(
        "sales",
        "c",
        valid=False,
        validation={"passed": False, "checks": []},
        description="d",
        tags={"team": "ml"},
        parent_ids=("p1",),
        derivation={"kind": "split", "split": "train"},
    )
    created, _ = store.datasets.create_version(new)
    got = store.datasets.get_version_by_id(created.id)
    assert got == created
    assert got.schema == new.schema and got.profile == new.profile
    assert (got.valid, got.validation, got.description) == (
        False,
        {"passed": False, "checks": []},
        "d",
    )
    assert (got.tags, got.parent_ids, got.derivation) == ({"team": "ml"}, ("p1",), new.derivation)
    assert got.lineage_node() == LineageNode("dataset_version", got.id, "sales/1")


def test_get_latest_numbered_and_by_hash(store) -> None:
    ds = store.datasets
    ds.create_version(_new("sales", "a"))
    v2, _ = ds.create_version(_new("sales", "b"))
    assert ds.get_version("sales").id == v2.id
    assert ds.get_version("sales", 1).content_hash == "a" * 64
    assert ds.find_version_by_hash("sales", "bbbb").id == v2.id
    with pytest.raises(NotFoundError, match="has no version 9; versions are 1-2"):
        ds.get_version("sales", 9)
    with pytest.raises(NotFoundError, match="did you mean 'sales'"):
        ds.get_version("sale")
    with pytest.raises(NotFoundError, match="no version whose content hash starts with 'cc'"):
        ds.find_version_by_hash("sales", "cc")
    with pytest.raises(InvalidArgumentError, match="not a sha256"):
        ds.find_version_by_hash("sales", "xyz")
    with pytest.raises(NotFoundError):
        ds.get_version_by_id("0" * 32)
    with pytest.raises(NotFoundError):
        ds.list_versions("nothing")


def test_ambiguous_hash_prefix(store) -> None:
    import dataclasses

    ds = store.datasets
    ds.create_version(_new("sales", "a"))
    ds.create_version(dataclasses.replace(_new("sales", "a"), content_hash="a" * 63 + "b"))
    with pytest.raises(NotFoundError, match="ambiguous"):
        ds.find_version_by_hash("sales", "aaaa")


def test_list_datasets_summarises_latest(store) -> None:
    ds = store.datasets
    ds.create_version(_new("b-set", "a"))
    ds.create_version(_new("a-set", "a"))
    latest, _ = ds.create_version(_new("a-set", "b"))
    summary = ds.list_datasets()
    assert [(s.name, s.num_versions, s.latest_version) for s in summary] == [
        ("a-set", 2, 2),
        ("b-set", 1, 1),
    ]
    assert summary[0].latest_id == latest.id


def test_upstream_edges_written_with_the_version(store) -> None:
    source = LineageNode("source", "file:///data/a.csv", "a.csv")
    v, _ = store.datasets.create_version(_new("sales", "a"), [(source, "ingested_into")])
    again, created = store.datasets.create_version(
        _new("sales", "a"), [(LineageNode("source", "s3://b/a.csv", "a.csv"), "ingested_into")]
    )
    assert again.id == v.id and not created
    graph = store.lineage.upstream(v.lineage_node())
    assert sorted(e.source.id for e in graph.edges) == ["file:///data/a.csv", "s3://b/a.csv"]
    assert {e.relation for e in graph.edges} == {"ingested_into"}
    assert graph.root.label == "sales/1"


def test_concurrent_registration_numbers_without_gaps_or_duplicates(store) -> None:
    ds = store.datasets
    errors: list[BaseException] = []
    results = []

    def work(i: int) -> None:
        try:
            results.append(ds.create_version(_new("busy", f"{i:x}"))[0].version)
            # the same content from another writer must not get a second number
            ds.create_version(_new("busy", f"{i:x}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == list(range(1, 9))
    assert [v.version for v in ds.list_versions("busy")] == list(range(1, 9))


def test_validation_is_recorded_once_on_a_version_without_one(store) -> None:
    ds = store.datasets
    bare, _ = ds.create_version(_new("sales", "a"))
    report = {"passed": False, "checks": [], "rows_checked": 3, "num_rows": 3, "sampled": False}
    recorded = ds.record_validation(bare.id, report, False)
    assert (recorded.id, recorded.version, recorded.validation, recorded.valid) == (
        bare.id,
        1,
        report,
        False,
    )
    assert (
        ds.get_version("sales", 1) == recorded and ds.get_version("sales", 1).validation == report
    )
    with pytest.raises(ConflictError, match="sales/1 already has a validation report"):
        ds.record_validation(bare.id, {"passed": True, "checks": []}, True)
    assert ds.get_version_by_id(bare.id).validation == report
    with pytest.raises(NotFoundError, match="dataset version id '0000"):
        ds.record_validation("0" * 32, report, True)
    validated, _ = ds.create_version(_new("other", "b", validation=report, valid=False))
    with pytest.raises(ConflictError):
        ds.record_validation(validated.id, {"passed": True, "checks": []}, True)
