"""``keel.datasets``: register, read, validate, split and compare dataset versions.

A thin module over :mod:`keel.data`, so the SDK reads naturally::

    >>> import keel
    >>> v = keel.datasets.register("data/iris.csv", "iris")
    >>> keel.datasets.get("iris").to_pandas().head()
    >>> parts = keel.datasets.split("iris", seed=7, stratify="species")
    >>> keel.datasets.diff("iris/1", "iris/2").schema_changes
"""

from __future__ import annotations

from keel.data import (
    Check,
    ColumnExpectation,
    DatasetDiff,
    DatasetSourceError,
    DatasetValidationError,
    DatasetVersion,
    Expectations,
    RowCount,
    ValidationReport,
    diff,
    get,
    get_by_id,
    list_datasets as list,
    load_expectations,
    register,
    split,
    validate,
    versions,
)

__all__ = [
    "Check",
    "ColumnExpectation",
    "DatasetDiff",
    "DatasetSourceError",
    "DatasetValidationError",
    "DatasetVersion",
    "Expectations",
    "RowCount",
    "ValidationReport",
    "diff",
    "get",
    "get_by_id",
    "list",
    "load_expectations",
    "register",
    "split",
    "validate",
    "versions",
]
