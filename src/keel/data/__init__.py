"""Versioned, validated, profiled datasets.

Register a file or DataFrame as an immutable, content-addressed version; read it back
as pandas, polars, Arrow or DuckDB; check it against expectations; split it::

    >>> import keel
    >>> v = keel.datasets.register("data/iris.csv", "iris")
    >>> keel.datasets.get("iris/1").to_pandas().shape
    (150, 5)
    >>> parts = keel.datasets.split("iris", {"train": 0.8, "test": 0.2}, stratify="species")
"""

from __future__ import annotations

from keel.data._datasets import get, get_by_id, list_datasets, register, versions
from keel.data._diff import ColumnShift, DatasetDiff, SchemaChange, diff
from keel.data._errors import DatasetSourceError, DatasetValidationError
from keel.data._expectations import (
    Check,
    ColumnExpectation,
    Expectations,
    RowCount,
    load_expectations,
)
from keel.data._names import (
    NAME_PATTERN,
    DatasetReference,
    check_name,
    parse_ref,
    parse_reference,
)
from keel.data._report import CheckOutcome, ValidationReport
from keel.data._split import DEFAULT_FRACTIONS, split
from keel.data._validate import validate
from keel.data._version import ColumnSchema, DatasetSchema, DatasetVersion
from keel.store import DatasetSummary

__all__ = [
    "DEFAULT_FRACTIONS",
    "NAME_PATTERN",
    "Check",
    "CheckOutcome",
    "ColumnExpectation",
    "ColumnSchema",
    "ColumnShift",
    "DatasetDiff",
    "DatasetReference",
    "DatasetSchema",
    "DatasetSourceError",
    "DatasetSummary",
    "DatasetValidationError",
    "DatasetVersion",
    "Expectations",
    "RowCount",
    "SchemaChange",
    "ValidationReport",
    "check_name",
    "diff",
    "get",
    "get_by_id",
    "list_datasets",
    "load_expectations",
    "parse_ref",
    "parse_reference",
    "register",
    "split",
    "validate",
    "versions",
]
