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
    result = ingest(path, tmp_path / "out.parquet")
    assert result.num_rows == rows
    assert pq.ParquetFile(result.path).metadata.num_rows == rows
