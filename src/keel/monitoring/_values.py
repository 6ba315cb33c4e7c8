"""The values of one monitor window, as a plain mapping, and the paths that name them.

Alert rules, Prometheus gauges and the monitor report all read a window through the same
plain, JSON-ready mapping, so whoever computes a window fills one structure::

    {
        "rows": 1200,                              # rows in the window
        "drift": {                                 # data drift of the inputs
            "share_drifted": 0.4,
            "dataset_drift": False,
            "drifted_columns": 2,
            "columns": {
                "age": {"statistic": 0.21, "p_value": None, "score": 0.21, "drifted": True},
            },
        },
        "prediction_drift": {...},                 # the same shape, over the outputs
        "performance": {"accuracy": 0.91, "labelled_share": 0.4},   # once labels arrive
        "estimated": {"accuracy": 0.89},           # estimated before labels (CBPE)
    }

Every part is optional: a window without labels has no ``performance``. A value path
names one number in it: ``rows``, ``drift.share_drifted``,
``drift.columns.age.statistic``, ``prediction_drift.columns.label.score``,
``performance.accuracy``, ``estimated.accuracy``. Booleans read as 1 and 0; a missing
value, ``None`` and NaN read as "no value" (``None``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.monitoring._report import DriftReport

__all__ = [
    "COLUMN_FIELDS",
    "DRIFT_FIELDS",
    "DRIFT_SECTIONS",
    "METRIC_SECTIONS",
    "PATH_FORMS",
    "ValuePath",
    "drift_values",
    "lookup_value",
    "parse_value_path",
]

#: sections holding a drift result (data drift of inputs, drift of predictions)
DRIFT_SECTIONS = ("drift", "prediction_drift")
#: sections holding metrics by name (measured once labels arrive; estimated before)
METRIC_SECTIONS = ("performance", "estimated")
#: window-level numbers of a drift section
DRIFT_FIELDS = ("share_drifted", "dataset_drift", "drifted_columns", "tested_columns")
#: numbers of one column of a drift section
COLUMN_FIELDS = ("statistic", "p_value", "score", "drifted")

_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

#: what a value path may look like (shown in errors)
PATH_FORMS = (
    "rows",
    "drift.share_drifted | drift.dataset_drift | drift.drifted_columns | drift.tested_columns",
    "drift.columns.<column>.statistic | .p_value | .score | .drifted",
    "prediction_drift.<the same as drift>",
    "performance.<metric> (e.g. performance.accuracy)",
    "estimated.<metric> (e.g. estimated.accuracy)",
)


class ValuePath:
    """A parsed value path: its section, and either a field, a metric or a column's field.

    Use :func:`parse_value_path` to build one.
    """

    __slots__ = ("column", "name", "section", "text")

    def __init__(self, text: str, section: str, name: str | None, column: str | None) -> None:
        self.text = text
        self.section = section
        self.name = name
        self.column = column

    def __repr__(self) -> str:
        return f"ValuePath({self.text!r})"

    def read(self, values: Mapping[str, Any]) -> float | None:
        """The number this path names in one window's values (``None``: no value)."""
        if self.section == "rows":
            return _number(values.get("rows"), self.text)
        part = values.get(self.section)
        if part is None:
            return None
        if not isinstance(part, Mapping):
            raise TypeError(f"window values: {self.section!r} must be a mapping, not {part!r}")
        if self.column is None:
            return _number(part.get(self.name or ""), self.text)
        columns = part.get("columns")
        if columns is None:
            return None
        if not isinstance(columns, Mapping):
            raise TypeError(f"window values: {self.section}.columns must be a mapping")
        column = columns.get(self.column)
        if column is None:
            return None
        if not isinstance(column, Mapping):
            raise TypeError(
                f"window values: {self.section}.columns.{self.column} must be a mapping"
            )
        return _number(column.get(self.name or ""), self.text)


def parse_value_path(text: str) -> ValuePath:
    """Parse a value path such as ``drift.columns.age.statistic``.

    A column name may itself hold dots: everything between ``columns.`` and the last dot
    is the column.

    Raises:
        ValueError: the path has none of the forms in :data:`PATH_FORMS` (the message
            lists them).
    """
    if not isinstance(text, str):
        raise ValueError(f"a value path is text, not {type(text).__name__}")
    section, _, rest = text.partition(".")
    if section == "rows" and not rest:
        return ValuePath(text, "rows", None, None)
    if section in DRIFT_SECTIONS:
        if rest in DRIFT_FIELDS:
            return ValuePath(text, section, rest, None)
        if rest.startswith("columns."):
            column, dot, field = rest[len("columns.") :].rpartition(".")
            if dot and column and field in COLUMN_FIELDS:
                return ValuePath(text, section, field, column)
    if section in METRIC_SECTIONS and _METRIC.match(rest):
        return ValuePath(text, section, rest, None)
    raise ValueError(f"{text!r} is not a value path; use one of: {'; '.join(PATH_FORMS)}")


def lookup_value(values: Mapping[str, Any], path: str) -> float | None:
    """The number ``path`` names in one window's ``values`` (``None`` when it has none).

    Example::

        >>> lookup_value({"drift": {"share_drifted": 0.5}}, "drift.share_drifted")
        0.5
    """
    return parse_value_path(path).read(values)


def _number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = float(value)
        return None if math.isnan(number) else number
    # numpy scalars and the like
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"window values: {path} must be a number, not {value!r}") from None
    return None if math.isnan(number) else number


def drift_values(report: DriftReport) -> dict[str, Any]:
    """The ``drift`` (or ``prediction_drift``) section of window values from a drift report.

    Example::

        >>> values = {"rows": 500, "drift": drift_values(keel.monitoring.drift(ref, cur))}
    """
    return {
        "share_drifted": report.drift_share,
        "dataset_drift": report.dataset_drift,
        "drifted_columns": len(report.drifted_columns),
        "tested_columns": len(report.tested_columns),
        "columns": {
            c.column: {
                "statistic": c.statistic,
                "p_value": c.p_value,
                "score": c.score,
                "drifted": c.drifted,
            }
            for c in report.columns
            if c.tested
        },
    }
