"""The inputs of :func:`keel.monitoring.drift`: tables to read one column at a time.

A reference or current table may be a dataset reference (``iris/3``), a
``DatasetVersion``, a CSV or Parquet file, a pandas or polars DataFrame or an Arrow
table. Each becomes a :class:`TableSource`, which reads one column at a time (Parquet:
only that column's pages, in row-group batches), so memory follows the largest
column, not the table.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.monitoring._errors import DriftInputError

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.data import DatasetVersion
    from keel.monitoring._sketch import ReferenceSketch

__all__ = ["TableSource", "dataset_version", "open_source"]

_PARQUET = {".parquet", ".pq"}
_CSV = {".csv", ".tsv", ".txt", ".gz", ".zst"}
SKETCH_SUFFIX = ".keelsketch"
# rows per batch when a column is read in batches (category counting)
BATCH_ROWS = 1 << 20


class TableSource(abc.ABC):
    """A table read column by column.

    Attributes:
        label: how the table is named in reports (``iris/3``, a file name, ``DataFrame``).
        schema: its Arrow schema.
        num_rows: its row count.
    """

    def __init__(self, label: str, schema: pa.Schema, num_rows: int) -> None:
        self.label = label
        self.schema = schema
        self.num_rows = num_rows

    @property
    def names(self) -> list[str]:
        return list(self.schema.names)

    @abc.abstractmethod
    def column(self, name: str) -> pa.ChunkedArray:
        """The whole column."""

    @abc.abstractmethod
    def batches(self, name: str) -> Iterator[pa.Array]:
        """The column in batches of at most :data:`BATCH_ROWS` rows."""


class _ArrowSource(TableSource):
    def __init__(self, table: pa.Table, label: str) -> None:
        super().__init__(label, table.schema, table.num_rows)
        self._table = table

    def column(self, name: str) -> pa.ChunkedArray:
        return self._table.column(name)

    def batches(self, name: str) -> Iterator[pa.Array]:
        column = self._table.column(name)
        for chunk in column.chunks:
            for start in range(0, len(chunk), BATCH_ROWS):
                yield chunk.slice(start, BATCH_ROWS)


class _ParquetSource(TableSource):
    def __init__(self, path: Path, label: str) -> None:
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:
            raise DriftInputError(f"cannot read {label} as Parquet: {exc}") from None
        super().__init__(label, self._file.schema_arrow, self._file.metadata.num_rows)

    def column(self, name: str) -> pa.ChunkedArray:
        return self._file.read(columns=[name]).column(0)

    def batches(self, name: str) -> Iterator[pa.Array]:
        for batch in self._file.iter_batches(batch_size=BATCH_ROWS, columns=[name]):
            yield batch.column(0)


def dataset_version(reference: str) -> DatasetVersion:
    """The dataset version a reference names: the one place monitoring reads the store.

    Args:
        reference: ``name``, ``name/3``, ``name/sha256:<prefix>`` or ``name@latest``.
    """
    from keel.data import get

    return get(reference)


def _looks_like_path(text: str) -> bool:
    suffixes = {s.lower() for s in Path(text).suffixes}
    return bool(suffixes & (_PARQUET | _CSV | {SKETCH_SUFFIX, ".json"})) or text.startswith(
        (".", "/", "~")
    )


def _read_csv(path: Path, label: str) -> pa.Table:
    import duckdb

    try:
        con = duckdb.connect()
        try:
            return con.read_csv(str(path)).to_arrow_table()
        finally:
            con.close()
    except duckdb.Error as exc:
        raise DriftInputError(f"cannot read {label} as CSV: {exc}") from None


def _is_sketch_file(path: Path) -> bool:
    from keel.monitoring._sketch import MAGIC

    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def open_source(data: Any, role: str) -> TableSource | ReferenceSketch:
    """``data`` as something drift can read; ``role`` ("reference"/"current") names it in errors.

    Raises:
        DriftInputError: a missing file, an unknown format or an unsupported object.
        NotFoundError: a dataset reference that names nothing.
    """
    import pyarrow as pa

    from keel.monitoring._sketch import ReferenceSketch

    if isinstance(data, ReferenceSketch):
        return data
    if isinstance(data, pa.Table):
        return _ArrowSource(data, "Arrow table")
    if isinstance(data, pa.RecordBatch):
        return _ArrowSource(pa.Table.from_batches([data]), "Arrow record batch")
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return _ArrowSource(pa.Table.from_pandas(data, preserve_index=False), "DataFrame")
    if module == "polars" and type(data).__name__ == "DataFrame":
        return _ArrowSource(data.to_arrow(), "polars DataFrame")
    if type(data).__name__ == "DatasetVersion" and module == "keel":
        return _ParquetSource(data.local_path(), data.reference)
    if isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        path = Path(text).expanduser()
        if path.is_file():
            return _open_file(path, text)
        if path.exists():
            raise DriftInputError(f"{role} {text!r} is a folder, not a file or a dataset")
        if _looks_like_path(text):
            raise DriftInputError(
                f"{role} file {text!r} does not exist; give a CSV or Parquet file, "
                "a dataset reference (iris/3) or a DataFrame"
            )
        version = dataset_version(text)
        return _ParquetSource(version.local_path(), version.reference)
    raise DriftInputError(
        f"{role} of type {type(data).__name__} is not supported; give a dataset reference, "
        "a CSV or Parquet path, a pandas or polars DataFrame, an Arrow table or a ReferenceSketch"
    )


def _open_file(path: Path, label: str) -> TableSource | ReferenceSketch:
    from keel.monitoring._sketch import ReferenceSketch

    suffixes = [s.lower() for s in path.suffixes]
    if _is_sketch_file(path):
        return ReferenceSketch.from_bytes(path.read_bytes())
    if suffixes and suffixes[-1] in _PARQUET:
        return _ParquetSource(path, label)
    if suffixes and (suffixes[-1] in _CSV or (len(suffixes) > 1 and suffixes[-2] in _CSV)):
        return _ArrowSource(_read_csv(path, label), label)
    raise DriftInputError(
        f"cannot tell the format of {label!r} from its name; "
        "drift reads .csv/.tsv (optionally .gz) and .parquet files and reference sketches"
    )
