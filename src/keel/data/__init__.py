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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.data._datasets import (
        get as get,
        get_by_id as get_by_id,
        list_datasets as list_datasets,
        register as register,
        versions as versions,
    )
    from keel.data._diff import (
        ColumnShift as ColumnShift,
        DatasetDiff as DatasetDiff,
        SchemaChange as SchemaChange,
        diff as diff,
    )
    from keel.data._errors import (
        DatasetSourceError as DatasetSourceError,
        DatasetValidationError as DatasetValidationError,
    )
    from keel.data._expectations import (
        Check as Check,
        ColumnExpectation as ColumnExpectation,
        Expectations as Expectations,
        RowCount as RowCount,
        load_expectations as load_expectations,
    )
    from keel.data._names import (
        NAME_PATTERN as NAME_PATTERN,
        DatasetReference as DatasetReference,
        check_name as check_name,
        parse_ref as parse_ref,
        parse_reference as parse_reference,
    )
    from keel.data._report import (
        CheckOutcome as CheckOutcome,
        ValidationReport as ValidationReport,
    )
    from keel.data._split import (
        DEFAULT_FRACTIONS as DEFAULT_FRACTIONS,
        split as split,
    )
    from keel.data._validate import (
        validate as validate,
    )
    from keel.data._version import (
        ColumnSchema as ColumnSchema,
        DatasetSchema as DatasetSchema,
        DatasetVersion as DatasetVersion,
    )
    from keel.store import (
        DatasetSummary as DatasetSummary,
    )

# public name -> module that defines it; imported on first use, so a command that only
# lists datasets does not pay for the expectation models, splits or diffs.
_EXPORTS: dict[str, str] = {
    "get": "keel.data._datasets",
    "get_by_id": "keel.data._datasets",
    "list_datasets": "keel.data._datasets",
    "register": "keel.data._datasets",
    "versions": "keel.data._datasets",
    "ColumnShift": "keel.data._diff",
    "DatasetDiff": "keel.data._diff",
    "SchemaChange": "keel.data._diff",
    "diff": "keel.data._diff",
    "DatasetSourceError": "keel.data._errors",
    "DatasetValidationError": "keel.data._errors",
    "Check": "keel.data._expectations",
    "ColumnExpectation": "keel.data._expectations",
    "Expectations": "keel.data._expectations",
    "RowCount": "keel.data._expectations",
    "load_expectations": "keel.data._expectations",
    "NAME_PATTERN": "keel.data._names",
    "DatasetReference": "keel.data._names",
    "check_name": "keel.data._names",
    "parse_ref": "keel.data._names",
    "parse_reference": "keel.data._names",
    "CheckOutcome": "keel.data._report",
    "ValidationReport": "keel.data._report",
    "DEFAULT_FRACTIONS": "keel.data._split",
    "split": "keel.data._split",
    "validate": "keel.data._validate",
    "ColumnSchema": "keel.data._version",
    "DatasetSchema": "keel.data._version",
    "DatasetVersion": "keel.data._version",
    "DatasetSummary": "keel.store",
}

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keel.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
