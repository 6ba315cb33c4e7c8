"""Errors of the monitoring layer."""

from __future__ import annotations

from keel.errors import InvalidArgumentError

__all__ = ["DriftInputError", "LabelError", "MonitorReferenceError", "SketchFormatError"]


class DriftInputError(InvalidArgumentError):
    """Data given to :func:`keel.monitoring.drift` cannot be compared.

    The message names the input (reference or current), what it got and what to give.
    """

    code = "INVALID_DRIFT_INPUT"
    http_status = 400


class SketchFormatError(InvalidArgumentError):
    """Bytes that are not a reference sketch this keel can read (wrong magic, newer format)."""

    code = "INVALID_SKETCH"
    http_status = 400


class MonitorReferenceError(InvalidArgumentError):
    """A monitor's reference cannot be found or read (no training dataset in lineage, a
    missing dataset or sketch); the message says what to give instead."""

    code = "MONITOR_REFERENCE"
    http_status = 422


class LabelError(InvalidArgumentError):
    """Labels (feedback) that cannot be compared with the model's predictions."""

    code = "INVALID_LABELS"
    http_status = 422
