"""``keel.datasets``: register, read, validate, split and compare dataset versions.

A thin module over :mod:`keel.data`, so the SDK reads naturally::

    >>> import keel
    >>> v = keel.datasets.register("data/iris.csv", "iris")
    >>> keel.datasets.get("iris").to_pandas().head()
"""

from __future__ import annotations

from keel.data import (
    DatasetSourceError,
    DatasetValidationError,
    DatasetVersion,
    ValidationReport,
    get,
    get_by_id,
    list_datasets as list,
    register,
    versions,
)

__all__ = [
    "DatasetSourceError",
    "DatasetValidationError",
    "DatasetVersion",
    "ValidationReport",
    "get",
    "get_by_id",
    "list",
    "register",
    "versions",
]
