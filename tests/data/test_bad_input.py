"""Every kind of bad input is a clear error naming the file/line/column, and registers nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.data import DatasetSourceError
from keel.errors import InvalidArgumentError


def _snapshot(client) -> tuple:
    """Everything a registration could leave behind: versions, lineage, artifact objects."""
    import sqlalchemy as sa

    db = client.store.database
    with db.read() as conn:
        rows = tuple(
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("datasets", "dataset_versions", "lineage_nodes", "lineage_edges")
        )
    root = Path(client.artifacts.root)
    objects = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    tmp = client.settings.home.absolute() / "tmp"
    leftovers = sorted(os.listdir(tmp)) if tmp.exists() else []
    return rows, objects, leftovers


@pytest.fixture
def baseline(client, tmp_path: Path):
    """One valid dataset registered first, so 'unchanged' is checked against a non-empty store."""
    ok = tmp_path / "ok.csv"
    ok.write_text("a,b\n1,x\n")
    keel.datasets.register(ok, "existing")
    return _snapshot(client)


def _assert_nothing_registered(client, baseline) -> None:
    assert _snapshot(client) == baseline
    assert [d.name for d in keel.datasets.list()] == ["existing"]


def _register_fails(client, baseline, source, name="bad", match="", **kwargs) -> str:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        keel.datasets.register(source, name, **kwargs)
    _assert_nothing_registered(client, baseline)
    return str(info.value)


def test_missing_file(client, baseline, tmp_path: Path) -> None:
    msg = _register_fails(client, baseline, tmp_path / "nope.csv", match="does not exist")
    assert "nope.csv" in msg


def test_missing_file_suggests_near_name(client, baseline, tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_text("a\n1\n")
    msg = _register_fails(client, baseline, tmp_path / "sale.csv", match="does not exist")
    assert "did you mean" in msg and "sales.csv" in msg


def test_unknown_format(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04 not really excel")
    msg = _register_fails(client, baseline, path, match="cannot tell the format")
    assert "data.xlsx" in msg and "format='csv'" in msg


def test_unknown_explicit_format(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a\n1\n")
    _register_fails(client, baseline, path, format="excel", match="format 'excel' is not supported")


@pytest.mark.parametrize("content", [b"", b"  \n\n \t\n"])
def test_empty_file(client, baseline, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    msg = _register_fails(client, baseline, path, match="is empty")
    assert "empty.csv" in msg


def test_header_only_csv(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b,c\n")
    _register_fails(client, baseline, path, match="has a header but no data rows")


def test_ragged_rows_short_file(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    msg = _register_fails(client, baseline, path, match="line 3 has 4 fields but the header has 3")
    assert "ragged.csv" in msg


def test_ragged_row_after_the_sniffer_sample(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    with path.open("w") as f:
        f.write("a,b,c\n")
        for i in range(30_000):
            f.write(f"{i},{i},{i}\n")
        f.write("1,2\n")
    _register_fails(client, baseline, path, match="line 30002 has 2 fields but the header has 3")


def test_bad_encoding(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\nana,Lisboa\njosé,Málaga\n".encode("latin-1"))
    msg = _register_fails(client, baseline, path, match="line 3 is not valid UTF-8")
    assert "latin1.csv" in msg and "iconv" in msg


def test_bad_encoding_jsonl(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"a": "ok"}\n{"a": "Málaga"}\n'.encode("latin-1"))
    _register_fails(client, baseline, path, match="line 2 is not valid UTF-8")


def test_duplicate_column_names(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("id,price,Price\n1,2,3\n")
    msg = _register_fails(client, baseline, path, match="column name 'Price' appears twice")
    assert "columns 2 and 3" in msg and "dup.csv line 1" in msg


def test_empty_column_name(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("id,,price\n1,2,3\n")
    _register_fails(client, baseline, path, match="column 2 has an empty name")


def test_duplicate_column_names_in_dataframe(client, baseline) -> None:
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    _register_fails(client, baseline, df, match="column name 'a' appears twice")


def test_mixed_types_csv_column(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    with path.open("w") as f:
        f.write("amount,label\n")
        for i in range(30_000):
            f.write(f"{i},x\n")
        f.write("twelve,y\n")
    msg = _register_fails(client, baseline, path, match="column 'amount'")
    assert "line 30002" in msg and "'twelve'" in msg and "mixes types" in msg
    assert "column_types={'amount': 'string'}" in msg
    # the way out the message names works
    v = keel.datasets.register(path, "mixed", column_types={"amount": "string"})
    assert v.schema["amount"].type == "string"


def test_mixed_types_json_column(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": {"nested": 2}, "b": "y"}\n')
    msg = _register_fails(client, baseline, path, match="column 'a' mixes JSON types")
    assert "line 1" in msg and "line 2" in msg


def test_mixed_types_dataframe_column(client, baseline) -> None:
    df = pd.DataFrame({"ok": [1, 2, 3], "mixed": [1, "two", 3.0]})
    _register_fails(client, baseline, df, match="column 'mixed' mixes types")


def test_malformed_jsonl_line(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    _register_fails(client, baseline, path, match="line 2 is not valid JSON")


def test_not_a_parquet_file(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("a,b\n1,2\n")
    _register_fails(client, baseline, path, match="fake.parquet is not a readable Parquet file")


@pytest.mark.parametrize(
    "name", ["", "Iris", "-iris", "iris data", "iris/raw", "a" * 129, "ïris", "iris@2"]
)
def test_invalid_dataset_name(client, baseline, tmp_path: Path, name: str) -> None:
    path = tmp_path / "ok2.csv"
    path.write_text("a\n1\n")
    _register_fails(client, baseline, path, name=name, match="dataset name .* is invalid")


def test_invalid_name_suggests_a_valid_one(client) -> None:
    with pytest.raises(InvalidArgumentError, match="e.g. 'iris-data'"):
        keel.datasets.register(pd.DataFrame({"a": [1]}), "Iris Data")


def test_unsupported_object(client, baseline) -> None:
    _register_fails(client, baseline, [1, 2, 3], match="cannot register a builtins.list")


def test_folder_instead_of_file(client, baseline, tmp_path: Path) -> None:
    _register_fails(client, baseline, tmp_path, match="is a folder")


def test_bad_expectations_file(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "ok3.csv"
    path.write_text("a\n1\n")
    spec = tmp_path / "exp.yaml"
    spec.write_text("columns:\n  a: {minimum: 0}\n")
    msg = _register_fails(client, baseline, path, expectations=spec, match="is invalid")
    assert "columns.a.minimum" in msg and "exp.yaml" in msg


def test_source_error_is_a_keel_error_with_a_code() -> None:
    assert issubclass(DatasetSourceError, keel.KeelError)
    assert DatasetSourceError.code == "INVALID_DATASET_SOURCE"


def test_error_codes_map_to_http_statuses() -> None:
    from keel.data import DatasetValidationError
    from keel.errors import error_for_code

    assert DatasetSourceError.http_status == 400
    assert DatasetValidationError.http_status == 422
    assert error_for_code("INVALID_DATASET_SOURCE") is DatasetSourceError


def test_ragged_rows_tiny_file(client, baseline, tmp_path: Path) -> None:
    # DuckDB's sniffer settles on the widest row as the header of a file this small
    path = tmp_path / "tiny.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
    msg = _register_fails(client, baseline, path, match="line 3 has 2 fields but the header has 3")
    assert "tiny.csv" in msg


@pytest.mark.parametrize("where", ["header", "data"])
def test_line_longer_than_the_limit(client, baseline, tmp_path: Path, where: str) -> None:
    from keel.data._sources import MAX_LINE_BYTES

    path = tmp_path / "long-line.csv"
    huge = "x" * 50_000_000
    path.write_text(f"{huge}\n1\n" if where == "header" else f"a,b\n1,2\n3,{huge}\n5,6\n")
    line = 1 if where == "header" else 3
    msg = _register_fails(client, baseline, path, match=f"line {line} is longer than")
    assert "long-line.csv" in msg and f"{MAX_LINE_BYTES:,} bytes" in msg
    assert "Parquet" in msg  # what to do
    assert len(msg) < 600  # the 50 MB line is not echoed


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (bytes(range(256)) * 64, "NUL bytes"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 64, "control bytes"),
    ],
)
def test_binary_file_named_csv(client, baseline, tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(content)
    msg = _register_fails(client, baseline, path, match="looks binary")
    assert "photo.csv" in msg and what in msg and "UTF-8" not in msg


def test_parquet_file_named_csv_says_so(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    msg = _register_fails(client, baseline, path, match="looks binary")
    assert "Parquet" in msg and "format='parquet'" in msg


def test_utf16_csv_is_named_as_such(client, baseline, tmp_path: Path) -> None:
    path = tmp_path / "excel-export.csv"
    path.write_bytes("a,b\n1,2\n".encode("utf-16"))
    msg = _register_fails(client, baseline, path, match="UTF-16")
    assert "excel-export.csv" in msg and "UTF-8" in msg


def test_odd_characters_in_paths_reach_duckdb_intact(client, tmp_path: Path) -> None:
    folder = tmp_path / "it's a \\ folder ü; DROP TABLE x; --"
    folder.mkdir()
    for name, write in (
        ("d'q.csv", lambda p: p.write_text("a,b\n1,x\n2,y\n")),
        ("d'q.jsonl", lambda p: p.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')),
        ("d'q.parquet", lambda p: pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(p)),
    ):
        path = folder / name
        write(path)
        v = keel.datasets.register(path, "odd-" + name.rsplit(".", 1)[1])
        assert v.num_rows == 2 and v.profile["columns"]["a"]["max"] == 2
