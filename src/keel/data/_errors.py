"""Errors of the data layer: unusable sources and failed expectations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.errors import InvalidArgumentError

if TYPE_CHECKING:
    from keel.data._report import ValidationReport

__all__ = ["DatasetSourceError", "DatasetValidationError"]


class DatasetSourceError(InvalidArgumentError):
    """A dataset source cannot be read: missing, empty, malformed or of an unknown format.

    The message names the file (and the line or column where known) and what to do.
    """

    code = "INVALID_DATASET_SOURCE"
    http_status = 400


class DatasetValidationError(InvalidArgumentError):
    """Data failed its expectations and ``allow_invalid`` was not set.

    Attributes:
        report: the :class:`~keel.data.ValidationReport` naming each failing check.
    """

    code = "DATASET_VALIDATION_FAILED"
    http_status = 422

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report
