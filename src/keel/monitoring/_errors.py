"""Errors of the monitoring layer."""

from __future__ import annotations

from keel.errors import InvalidArgumentError

__all__ = ["DriftInputError", "SketchFormatError"]


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
