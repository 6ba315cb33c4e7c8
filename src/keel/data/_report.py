"""The result of checking a dataset against its expectations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckOutcome", "ValidationReport"]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One expectation checked: its name, column, result, failure count and example rows.

    Attributes:
        check: the check's name (``in_range(0, 130)``, ``not_null``, ``unique``, ...).
        column: the column checked, or ``None`` for a dataset-level check.
        passed: whether every row passed.
        failures: how many rows (or values) failed.
        examples: up to five failing rows, each with its 0-based ``row`` number.
        message: a one-line explanation of a failure.
    """

    check: str
    column: str | None
    passed: bool
    failures: int = 0
    examples: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "check": self.check,
            "column": self.column,
            "passed": self.passed,
            "failures": self.failures,
            "examples": [dict(e) for e in self.examples],
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckOutcome:
        """Inverse of :meth:`to_dict`."""
        return cls(
            check=data["check"],
            column=data.get("column"),
            passed=bool(data["passed"]),
            failures=int(data.get("failures", 0)),
            examples=tuple(data.get("examples", ())),
            message=data.get("message", ""),
        )


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every check run against a dataset, and whether all passed.

    Attributes:
        passed: ``True`` when every check passed.
        checks: each check's outcome, failing ones first.
        rows_checked: rows the row-level checks saw (all rows unless sampled).
        num_rows: rows in the dataset.
        sampled: whether row-level checks ran on a sample (dataset-level checks such as
            uniqueness, nullability and row counts are always exact).
    """

    passed: bool
    checks: tuple[CheckOutcome, ...]
    rows_checked: int
    num_rows: int
    sampled: bool = False

    @property
    def failures(self) -> tuple[CheckOutcome, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> str:
        """One line per failing check (or ``all N checks passed``)."""
        if self.passed:
            return f"all {len(self.checks)} checks passed"
        parts = []
        for c in self.failures:
            where = f"column {c.column!r} " if c.column else ""
            detail = f" ({c.message})" if c.message else ""
            parts.append(f"{where}{c.check}: {c.failures} failing{detail}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (stored with the dataset version)."""
        return {
            "passed": self.passed,
            "rows_checked": self.rows_checked,
            "num_rows": self.num_rows,
            "sampled": self.sampled,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        """Inverse of :meth:`to_dict`."""
        return cls(
            passed=bool(data["passed"]),
            checks=tuple(CheckOutcome.from_dict(c) for c in data.get("checks", ())),
            rows_checked=int(data.get("rows_checked", 0)),
            num_rows=int(data.get("num_rows", 0)),
            sampled=bool(data.get("sampled", False)),
        )
