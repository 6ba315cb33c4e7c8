"""Fixtures for registry tests: iris data and a helper that logs and registers a model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="session")
def iris_xy() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture
def register_model(client: Any, iris_xy: tuple[Any, Any]) -> Callable[..., Any]:
    """Fit a small model in a run, log its metrics, log it and register it under a name."""
    import keel

    X, y = iris_xy

    def make(
        name: str = "iris",
        model: Any = None,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        est = model if model is not None else RandomForestClassifier(n_estimators=5, random_state=0)
        with keel.start_run(experiment="iris"):
            est.fit(X, y)
            keel.log_metrics(metrics or {"f1_macro": 0.95})
            kwargs.setdefault("input_example", X.head(5))
            return keel.log_model(est, name=name, **kwargs).version

    return make
