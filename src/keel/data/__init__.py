"""Versioned, validated, profiled datasets.

Register a file or DataFrame as an immutable, content-addressed version; read it back
as pandas, polars, Arrow or DuckDB::

    >>> import keel
    >>> v = keel.datasets.register("data/iris.csv", "iris")
    >>> keel.datasets.get("iris@1").to_pandas().shape
    (150, 5)
"""

from __future__ import annotations

from keel.data._datasets import get, get_by_id, list_datasets, register, versions
from keel.data._errors import DatasetSourceError, DatasetValidationError
from keel.data._names import NAME_PATTERN, check_name, parse_ref
from keel.data._report import CheckOutcome, ValidationReport
from keel.data._version import ColumnSchema, DatasetSchema, DatasetVersion
from keel.store import DatasetSummary

__all__ = [
    "NAME_PATTERN",
    "CheckOutcome",
    "ColumnSchema",
    "DatasetSchema",
    "DatasetSourceError",
    "DatasetSummary",
    "DatasetValidationError",
    "DatasetVersion",
    "ValidationReport",
    "check_name",
    "get",
    "get_by_id",
    "list_datasets",
    "parse_ref",
    "register",
    "versions",
]
