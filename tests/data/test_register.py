"""Registering and reading dataset versions end to end (SQLite store, local artifacts)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.store import LineageNode


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    path = tmp_path / "iris.csv"
    path.write_text(
        "sepal_length,species,measured_at\n"
        "5.1,setosa,2024-01-01 10:00:00\n"
        "4.9,setosa,2024-01-02 10:00:00\n"
        "6.3,virginica,2024-01-03 10:00:00\n"
        ",versicolor,2024-01-04 10:00:00\n"
    )
    return path


def test_register_csv_then_get_reads_same_rows(client, iris_csv: Path) -> None:
    v = keel.datasets.register(iris_csv, "iris", description="four flowers")
    assert (v.name, v.version, v.num_rows, v.valid) == ("iris", 1, 4, True)
    assert v.schema["sepal_length"].type == "float"
    assert v.schema["sepal_length"].nullable is True
    assert v.schema["species"].type == "string"
    assert v.schema["measured_at"].type == "timestamp"
    got = keel.datasets.get("iris")
    assert got == v
    df = got.to_pandas()
    assert list(df.columns) == ["sepal_length", "species", "measured_at"]
    assert df["species"].tolist() == ["setosa", "setosa", "virginica", "versicolor"]
    assert got.description == "four flowers"
    assert got.created_by
    assert got.source_uri == iris_csv.absolute().as_uri()


def test_identical_content_returns_existing_version(client, iris_csv: Path) -> None:
    first = keel.datasets.register(iris_csv, "iris")
    again = keel.datasets.register(iris_csv, "iris")
    assert again.id == first.id
    assert [x.version for x in keel.datasets.versions("iris")] == [1]


def test_new_content_gets_next_version_and_refs_resolve(client, iris_csv: Path) -> None:
    v1 = keel.datasets.register(iris_csv, "iris")
    v2 = keel.datasets.register(pd.DataFrame({"x": [1, 2, 3]}), "iris")
    assert v2.version == 2
    assert keel.datasets.get("iris").id == v2.id
    assert keel.datasets.get("iris/1").id == v1.id
    assert keel.datasets.get("iris@latest").id == v2.id
    assert keel.datasets.get(f"iris/sha256:{v1.content_hash[:8]}").id == v1.id
    assert keel.datasets.get(f"iris/sha256:{v2.content_hash}").id == v2.id
    assert keel.datasets.get_by_id(v1.id).id == v1.id
    summary = keel.datasets.list()
    assert [(d.name, d.num_versions, d.latest_version) for d in summary] == [("iris", 2, 2)]


def test_missing_version_and_name_messages(client, iris_csv: Path) -> None:
    keel.datasets.register(iris_csv, "iris")
    with pytest.raises(keel.KeelError, match=r"dataset 'iris' has no version 7; versions are 1"):
        keel.datasets.get("iris/7")
    with pytest.raises(keel.KeelError, match=r"did you mean 'iris'"):
        keel.datasets.get("irsi")
    with pytest.raises(keel.KeelError, match=r"no version whose content hash starts with 'ffff"):
        keel.datasets.get("iris/sha256:ffff")
    with pytest.raises(keel.KeelError, match=r"malformed"):
        keel.datasets.get("iris@v2")


def test_readers_agree(client, iris_csv: Path) -> None:
    v = keel.datasets.register(iris_csv, "iris")
    assert v.to_arrow().num_rows == 4
    assert v.to_polars().shape == (4, 3)
    rel = v.to_duckdb()
    assert rel.filter("species = 'setosa'").aggregate("count(*)").fetchall() == [(2,)]
    assert v.head(2)["sepal_length"].tolist() == [5.1, 4.9]
    assert v.to_pandas(columns=["species"]).shape == (4, 1)


def test_source_lineage_is_written(client, iris_csv: Path) -> None:
    v = keel.datasets.register(iris_csv, "iris")
    assert v.lineage_node() == LineageNode("dataset_version", v.id, "iris/1")
    graph = client.store.lineage.upstream(v.lineage_node())
    assert [(e.source.kind, e.source.id, e.source.label, e.relation) for e in graph.edges] == [
        ("source", iris_csv.absolute().as_uri(), "iris.csv", "ingested_into")
    ]
    assert graph.root.label == "iris/1"


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        (".jsonl", '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n'),
        (".json", '[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]'),
        (".tsv", "a\tb\n1\tx\n2\ty\n"),
    ],
)
def test_text_formats(client, tmp_path: Path, suffix: str, content: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(content)
    v = keel.datasets.register(path, "small")
    assert v.to_pandas().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_parquet_polars_and_arrow_sources_give_same_content(client, tmp_path: Path) -> None:
    import polars as pl
    import pyarrow as pa

    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    df.to_parquet(tmp_path / "d.parquet")
    from_pandas = keel.datasets.register(df, "same")
    assert keel.datasets.register(pa.Table.from_pandas(df), "same").id == from_pandas.id
    assert keel.datasets.register(pl.from_pandas(df), "same").id == from_pandas.id
    assert keel.datasets.register(tmp_path / "d.parquet", "same").id == from_pandas.id


def test_fsspec_url_source(client) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/keel-test/data.csv", b"a,b\n1,x\n2,y\n")
    try:
        v = keel.datasets.register("memory://keel-test/data.csv", "remote")
        assert v.num_rows == 2
        assert v.source_uri == "memory://keel-test/data.csv"
    finally:
        fs.rm("/keel-test", recursive=True)


def test_gzip_csv(client, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    assert keel.datasets.register(path, "zipped").num_rows == 2
