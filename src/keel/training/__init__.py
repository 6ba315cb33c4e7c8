"""Training: ``keel.train`` with cross-validation, hyperparameter search, evaluation,
fairness, SHAP, differential privacy and a model card, all recorded in one run.

Example::

    >>> import keel
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> result = keel.train(RandomForestClassifier(), df, target="label", experiment="demo",
    ...                     search={"n_trials": 20, "space": {
    ...                         "max_depth": {"type": "int", "low": 2, "high": 10}}})
    >>> result.metrics["cv.accuracy_mean"]
"""

from __future__ import annotations

from keel.training._config import TrainConfig, load_train_config, train_from_config
from keel.training._errors import ModelNotStoredError, SearchFailedError, TrainingInputError
from keel.training._metrics import METRICS, MetricSpec
from keel.training._result import TrainingResult
from keel.training._space import SearchConfig, parse_search
from keel.training._train import train

__all__ = [
    "METRICS",
    "MetricSpec",
    "ModelNotStoredError",
    "SearchConfig",
    "SearchFailedError",
    "TrainConfig",
    "TrainingInputError",
    "TrainingResult",
    "load_train_config",
    "parse_search",
    "train",
    "train_from_config",
]
