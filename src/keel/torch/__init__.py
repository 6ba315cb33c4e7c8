"""PyTorch through the scikit-learn contract: ``TorchClassifier`` and ``TorchRegressor``.

They fit a module with an optimiser and a loss for some epochs in mini-batches, keep
the per-epoch history (``history_``: train loss, validation loss and metric), stop
early when the validation loss stops improving, and restore the best weights. Given
to :func:`keel.train` they are cross-validated, evaluated and explained like any
estimator, and the per-epoch history is logged as metric series.

torch is imported only when a model is fitted (``pip install 'keel[torch]'``).

Example::

    >>> from keel.torch import TorchClassifier
    >>> clf = TorchClassifier(module_params={"hidden": [64]}, epochs=30, patience=5)
    >>> result = keel.train(clf, digits_df, target="target", experiment="digits")
"""

from __future__ import annotations

from keel.torch._estimator import TorchClassifier, TorchRegressor
from keel.torch._persist import load_model, log_model

__all__ = ["TorchClassifier", "TorchRegressor", "load_model", "log_model"]
