"""``keel.datasets``: register, read, validate, split and compare dataset versions.

A thin module over :mod:`keel.data`, so the SDK reads naturally::

    >>> import keel
    >>> v = keel.datasets.register("data/iris.csv", "iris")
    >>> keel.datasets.get("iris").to_pandas().head()
    >>> parts = keel.datasets.split("iris", seed=7, stratify="species")
    >>> keel.datasets.diff("iris/1", "iris/2").schema_changes
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.data import (
        Check as Check,
        ColumnExpectation as ColumnExpectation,
        DatasetDiff as DatasetDiff,
        DatasetSourceError as DatasetSourceError,
        DatasetValidationError as DatasetValidationError,
        DatasetVersion as DatasetVersion,
        Expectations as Expectations,
        RowCount as RowCount,
        ValidationReport as ValidationReport,
        diff as diff,
        get as get,
        get_by_id as get_by_id,
        list_datasets as list,
        load_expectations as load_expectations,
        register as register,
        split as split,
        validate as validate,
        versions as versions,
    )

# public name -> its name in keel.data, imported on first use
_EXPORTS: dict[str, str] = {
    "Check": "Check",
    "ColumnExpectation": "ColumnExpectation",
    "DatasetDiff": "DatasetDiff",
    "DatasetSourceError": "DatasetSourceError",
    "DatasetValidationError": "DatasetValidationError",
    "DatasetVersion": "DatasetVersion",
    "Expectations": "Expectations",
    "RowCount": "RowCount",
    "ValidationReport": "ValidationReport",
    "diff": "diff",
    "get": "get",
    "get_by_id": "get_by_id",
    "load_expectations": "load_expectations",
    "register": "register",
    "split": "split",
    "validate": "validate",
    "versions": "versions",
    "list": "list_datasets",
}

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module("keel.data"), _EXPORTS[name])
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keel.datasets' has no attribute {name!r}")


def __dir__() -> builtins.list[str]:
    return sorted(__all__)
