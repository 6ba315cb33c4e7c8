"""Declarative expectations about a dataset, in Python or YAML.

Example (YAML)::

    rows: {min: 100}
    strict: false            # true: no columns besides those listed
    columns:
      age:     {type: integer, nullable: false, min: 0, max: 130}
      species: {allowed: [setosa, versicolor, virginica]}
      email:   {regex: '^[^@]+@[^@]+$'}
      id:      {unique: true}
    checks:
      - name: adults_have_income
        sql: "age < 18 OR income IS NOT NULL"

The same in Python::

    Expectations(
        rows=RowCount(min=100),
        columns={"age": ColumnExpectation(type="integer", nullable=False, min=0, max=130)},
        checks=[Check(name="adults_have_income", sql="age < 18 OR income IS NOT NULL"),
                Check(name="positive", fn=lambda df: df["income"] >= 0)],
    )

Unknown keys are errors, so a typo is reported instead of silently ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.errors import InvalidArgumentError

__all__ = ["Check", "ColumnExpectation", "Expectations", "RowCount", "load_expectations"]

LogicalType = Literal[
    "integer", "float", "decimal", "numeric", "string", "boolean", "timestamp", "date", "time"
]
Scalar = int | float | str


class ColumnExpectation(BaseModel):
    """What one column must satisfy.

    Attributes:
        type: logical type (``numeric`` accepts integer, float and decimal).
        nullable: ``False`` requires every value to be present.
        required: ``False`` lets the column be absent.
        min: smallest allowed value (inclusive; a number, or an ISO time for timestamps).
        max: largest allowed value (inclusive).
        allowed: the only values allowed.
        regex: a pattern every (string) value must fully match.
        unique: ``True`` requires no value to repeat (checked over the whole dataset).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: LogicalType | None = None
    nullable: bool = True
    required: bool = True
    min: Scalar | None = None
    max: Scalar | None = None
    allowed: list[Scalar | bool | None] | None = None
    regex: str | None = None
    unique: bool = False

    @model_validator(mode="after")
    def _check(self) -> ColumnExpectation:
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} is invalid: {exc}") from None
        if (
            isinstance(self.min, (int, float))
            and isinstance(self.max, (int, float))
            and self.min > self.max
        ):
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class RowCount(BaseModel):
    """Bounds on the number of rows (inclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Check(BaseModel):
    """A custom check: a SQL condition every row must meet, or a Python function.

    Attributes:
        name: shown in the report.
        sql: a DuckDB boolean expression over the columns (``"price >= cost"``); rows
            where it is false or null fail. Checked exactly over the whole dataset.
        fn: Python only: takes a pandas DataFrame (a chunk of rows) and returns a
            boolean Series (``False`` marks failing rows) or one bool. Run by pandera,
            chunk by chunk.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(min_length=1, max_length=200)
    sql: str | None = None
    fn: Callable[[Any], Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Check:
        if (self.sql is None) == (self.fn is None):
            raise ValueError(f"check {self.name!r} needs exactly one of 'sql' or 'fn'")
        return self


class Expectations(BaseModel):
    """Everything a dataset is expected to satisfy (see the module docstring).

    Attributes:
        columns: expectations per column name.
        rows: bounds on the row count.
        strict: ``True`` fails columns that are not listed in ``columns``.
        checks: custom checks.
        sample: run row-level checks (ranges, allowed values, regex, Python checks) on a
            uniform random sample of this many rows instead of every row; dataset-level
            checks (presence, type, nullability, uniqueness, row count, SQL checks)
            stay exact. ``None`` (default) checks every row, in chunks.
        seed: seed of that sample.

    Example::

        >>> Expectations.model_validate({"columns": {"age": {"min": 0}}})
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    columns: dict[str, ColumnExpectation] = Field(default_factory=dict)
    rows: RowCount | None = None
    strict: bool = False
    checks: list[Check] = Field(default_factory=list)
    sample: int | None = Field(default=None, ge=1)
    seed: int = 0


def load_expectations(
    value: Expectations | Mapping[str, Any] | str | os.PathLike[str],
) -> Expectations:
    """Expectations from an object, a dict, or the path of a YAML file.

    Raises:
        InvalidArgumentError: the file is missing or malformed, or a key is unknown
            (the message names the file and the key).

    Example::

        >>> load_expectations("expectations.yaml").columns["age"].min
        0
    """
    if isinstance(value, Expectations):
        return value
    where = "expectations"
    data: Any = value
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        where = f"expectations file {str(path)!r}"
        if not path.is_file():
            raise InvalidArgumentError(f"{where} does not exist; check the path")
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InvalidArgumentError(
                f"{where} is not UTF-8 text; save it as UTF-8 YAML"
            ) from None
        except yaml.YAMLError as exc:
            from keel._yaml import describe_yaml_error

            raise InvalidArgumentError(
                f"{where} is not valid YAML ({describe_yaml_error(exc)}); fix that line"
            ) from None
        if data is None:
            data = {}
    if not isinstance(data, Mapping):
        raise InvalidArgumentError(
            f"{where} must be a mapping with keys columns, rows, strict, checks, sample; "
            f"got {type(data).__name__}"
        )
    try:
        return Expectations.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'top level'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidArgumentError(
            f"{where} is invalid ({problems}); see docs/guides/datasets.md#expectations"
        ) from None
