"""Errors raised by training before any model is fitted."""

from __future__ import annotations

from keel.errors import InvalidArgumentError

__all__ = ["TrainingInputError"]


class TrainingInputError(InvalidArgumentError):
    """The data, target, features, CV, search space or metric given to ``keel.train`` is unusable.

    Raised before a run is created or a dataset registered, so bad input leaves every
    store unchanged.
    """

    code = "INVALID_TRAINING_INPUT"
