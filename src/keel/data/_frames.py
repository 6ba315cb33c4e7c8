"""In-memory tables (pandas, polars, Arrow, DuckDB relations) as one Arrow table."""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any

from keel.data._errors import DatasetSourceError
from keel.data._sources import check_column_names

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["describe", "to_arrow_table"]


def describe(obj: object) -> str:
    """``module.Class`` of ``obj``, as messages show it (``pandas.DataFrame``)."""
    return f"{type(obj).__module__.split('.')[0]}.{type(obj).__name__}"


_CONVERSION_COLUMN = re.compile(r"Conversion failed for column (?P<col>.+?) with type")


def to_arrow_table(obj: object) -> pa.Table:
    """A pandas/polars DataFrame, Arrow table/batch/reader or DuckDB relation as Arrow.

    Raises:
        DatasetSourceError: unsupported object, bad column names, or a column whose
            values mix types.
    """
    import pyarrow as pa

    module = type(obj).__module__.split(".")[0]
    if isinstance(obj, pa.Table):
        table = obj
    elif isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
    elif isinstance(obj, pa.RecordBatchReader):
        table = obj.read_all()
    elif module == "pandas" and type(obj).__name__ == "DataFrame":
        table = _pandas_to_arrow(obj)
    elif module == "polars" and type(obj).__name__ in ("DataFrame", "LazyFrame"):
        frame: Any = obj
        if type(obj).__name__ == "LazyFrame":
            frame = frame.collect()
        check_column_names([str(c) for c in frame.columns], "the polars DataFrame")
        try:
            table = frame.to_arrow()
        except Exception as exc:
            raise DatasetSourceError(
                f"the polars DataFrame cannot be converted to a typed table ({exc}); give "
                "object columns a single type"
            ) from None
    elif module == "duckdb" and hasattr(obj, "to_arrow_table"):
        table = obj.to_arrow_table()
    else:
        raise DatasetSourceError(
            f"cannot register a {describe(obj)}: pass a file path or URL (CSV, TSV, JSON "
            "Lines, JSON, Parquet), a pandas or polars DataFrame, an Arrow table or a "
            "DuckDB relation"
        )
    check_column_names([str(n) for n in table.column_names], f"the {describe(obj)}")
    return table.replace_schema_metadata(None)


def _pandas_to_arrow(df: Any) -> pa.Table:
    import pyarrow as pa

    names = [str(c) for c in df.columns]
    check_column_names(names, "the pandas DataFrame")
    if any(n is not None for n in df.index.names) and not _is_default_index(df):
        df = df.reset_index()
        names = [str(c) for c in df.columns]
        check_column_names(names, "the pandas DataFrame (with its index as columns)")
    if names != list(df.columns):
        df = df.set_axis(names, axis=1)
    try:
        with warnings.catch_warnings():
            # pyarrow reads zone-aware columns through Series.values, which pandas 3.1
            # deprecates; the values it converts are the right UTC instants
            warnings.filterwarnings(
                "ignore", message="Series.values returning an ndarray that drops timezone"
            )
            return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        text = str(exc)
        match = _CONVERSION_COLUMN.search(text)
        column = match.group("col") if match else None
        where = f"column {column!r}" if column else "a column"
        first = text.split("', 'Conversion")[0].lstrip("(\"'")
        raise DatasetSourceError(
            f"the pandas DataFrame's {where} mixes types and cannot be typed ({first}); "
            "convert it to one type first, e.g. df[col] = df[col].astype(str)"
        ) from None


def _is_default_index(df: Any) -> bool:
    import pandas as pd

    index = df.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
