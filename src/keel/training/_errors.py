"""Errors of ``keel.train``: bad input (before anything is written) and failed runs."""

from __future__ import annotations

from keel.errors import InvalidArgumentError, KeelError

__all__ = ["ModelNotStoredError", "SearchFailedError", "TrainingInputError"]


class TrainingInputError(InvalidArgumentError):
    """The data, target, features, CV, search space or metric given to ``keel.train`` is unusable.

    Raised before a run is created or a dataset registered, so bad input leaves every
    store unchanged.
    """

    code = "INVALID_TRAINING_INPUT"
    http_status = 400


class SearchFailedError(KeelError):
    """Every trial of a hyperparameter search failed or was pruned: there is no best model.

    The training run is marked FAILED; each failed trial's nested run holds its traceback.
    """

    code = "SEARCH_FAILED"
    http_status = 422


class ModelNotStoredError(KeelError):
    """The model was trained but could not be stored as the run's ``model`` artifact.

    The training run is marked FAILED with the reason: a run without its model is not a
    success. Pass ``log_model=False`` to ``keel.train`` to train without storing one.
    """

    code = "MODEL_NOT_STORED"
    http_status = 422
