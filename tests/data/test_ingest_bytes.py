"""The normalised Parquet bytes depend only on the data: content hashes are stable.

Registering identical content again must find the existing version by its sha256, so
the writer must not let batching, thread scheduling or the source's form change a byte.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import keel
from keel.data._ingest import ROW_GROUP_ROWS, ingest, write_parquet


def _table(rows: int) -> pa.Table:
    ids = pa.array(range(rows), pa.int64())
    return pa.table(
        {
            "id": ids,
            "color": pa.array([("red", "green", "blue")[i % 3] for i in range(rows)]),
            "note": pa.array([f"row {i}" for i in range(rows)]),
        }
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_batching_does_not_change_the_bytes(tmp_path: Path) -> None:
    table = _table(ROW_GROUP_ROWS + 1000)
    one = tmp_path / "one.parquet"
    many = tmp_path / "many.parquet"
    assert write_parquet(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), one)
    odd = table.to_batches(max_chunksize=7919)  # batches that straddle row-group ends
    write_parquet(pa.RecordBatchReader.from_batches(table.schema, odd), many)
    assert _sha(one) == _sha(many)
    meta = pq.ParquetFile(one).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        ROW_GROUP_ROWS,
        1000,
    ]


def test_low_cardinality_columns_are_dictionary_encoded_others_plain(tmp_path: Path) -> None:
    table = _table(5000)
    path = tmp_path / "t.parquet"
    write_parquet(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), path)
    group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(3)}
    assert any("DICTIONARY" in e for e in encodings["color"])
    assert not any("DICTIONARY" in e for e in encodings["id"] + encodings["note"])


def test_csv_ingested_twice_gives_identical_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = ROW_GROUP_ROWS + 20_000  # several DuckDB batches and two row groups
    with path.open("w") as f:
        f.write("id,color,amount\n")
        for i in range(rows):
            f.write(f"{i},{('red', 'green', 'blue')[i % 3]},{i * 0.5}\n")
    a = ingest(path, tmp_path / "a.parquet")
    b = ingest(path, tmp_path / "b.parquet")
    assert a.num_rows == b.num_rows == rows
    assert _sha(a.path) == _sha(b.path)


def test_identical_content_is_found_after_the_file_was_moved_into_the_store(
    client, tmp_path: Path
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    first = keel.datasets.register(path, "moved")
    assert first.local_path().exists()
    assert keel.datasets.register(path, "moved").id == first.id
    assert first.to_pandas().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    leftovers = list((client.settings.home.absolute() / "tmp").iterdir())
    assert leftovers == []


def test_ingest_works_within_a_small_duckdb_memory_limit(tmp_path: Path, monkeypatch) -> None:
    import keel.data._ingest as ingest_module

    monkeypatch.setattr(ingest_module, "CSV_MEMORY_LIMIT", "48MB")
    path = tmp_path / "wide.csv"
    rows = 200_000
    with path.open("w") as f:
        f.write("id,text\n")
        for i in range(rows):
            f.write(f"{i},{'x' * (i % 200)}\n")  # ~20 MB of text
    result = ingest(path, tmp_path / "out.parquet", engine="duckdb")  # DuckDB's reader
    assert result.num_rows == rows and result.engine == "duckdb"
    assert pq.ParquetFile(result.path).metadata.num_rows == rows


# Valid CSVs that exercise what pyarrow and DuckDB must read alike: nulls (quoted or not),
# quoted newlines and doubled quotes, CRLF, a BOM, blank lines (a null in a one-column
# file), ISO dates and timestamps, booleans, NaN and infinities, unicode, no final newline.
_TRICKY = {
    "nulls": 'a,b,c\n1,,x\n,2.5,""\n3,4,\n',
    "quoting": 'id,text\n1,"he said ""hi"""\n2,"two\nlines"\n3,"a,b"\n',
    "crlf-bom": "\ufeffa,b\r\n1,x\r\n2,y\r\n",
    "blank-lines": "a,b\n1,x\n\n2,y\n\n",
    "one-column-blanks": "a\n1\n\n2\n\n",
    "temporal": "d,t\n2020-01-01,2020-01-01 00:00:00\n2021-12-31,2021-12-31T23:59:59.123456\n",
    "booleans": "flag,n\ntrue,1\nFalse,0\nTRUE,1\n",
    "floats": "x\n1.5\nnan\ninf\n-inf\n1e300\n-0.0\n",
    "unicode": "name,city\nJosé,Málaga\n日本,東京\n",
    "no-final-newline": "a,b\n1,x\n2,y",
    "semicolons": "a;b\n1;x\n2;y\n",
    "tabs": "a\tb\n1\tx\n2\ty\n",
}


def test_pyarrow_and_duckdb_engines_write_identical_bytes(tmp_path: Path) -> None:
    for name, text in _TRICKY.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(text.encode())
        fast = ingest(path, tmp_path / f"{name}-auto.parquet")
        slow = ingest(path, tmp_path / f"{name}-duckdb.parquet", engine="duckdb")
        assert (fast.engine, slow.engine) == ("pyarrow", "duckdb"), name
        assert fast.num_rows == slow.num_rows > 0, name
        assert _sha(fast.path) == _sha(slow.path) == fast.sha256 == slow.sha256, name


def test_what_pyarrow_reads_differently_falls_back_to_duckdb(tmp_path: Path) -> None:
    # DuckDB reads t/f as booleans, a comment line, a US date; pyarrow would not
    for name, text in {
        "tf": "flag\nt\nf\n",
        "comment": "a,b\n#note,1\n2,3\n",
        "us-date": "d\n01/02/2020\n12/31/2020\n",
    }.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        result = ingest(path, tmp_path / f"{name}.parquet")
        assert result.engine == "duckdb", name
        assert result.num_rows == text.count("\n") - 1 - (name == "comment"), name


def test_csv_parquet_and_dataframe_of_the_same_content_hash_alike(client, tmp_path: Path) -> None:
    import pandas as pd

    rows = ROW_GROUP_ROWS + 5000
    df = pd.DataFrame(
        {
            "id": range(rows),
            "amount": [i * 0.25 for i in range(rows)],
            "color": [("red", "green", None)[i % 3] for i in range(rows)],
            "note": [f"row {i}" for i in range(rows)],
            "active": [i % 2 == 0 for i in range(rows)],
        }
    )
    csv_path, parquet_path = tmp_path / "d.csv", tmp_path / "d.parquet"
    df.to_csv(csv_path, index=False)
    df.to_parquet(parquet_path)
    from_csv = keel.datasets.register(csv_path, "same")
    assert keel.datasets.register(df, "same").content_hash == from_csv.content_hash
    assert keel.datasets.register(parquet_path, "same").content_hash == from_csv.content_hash
    assert len(keel.datasets.versions("same")) == 1
