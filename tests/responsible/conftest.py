"""Small datasets for the training tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame.rename(columns={"target": "species"})


@pytest.fixture
def binary() -> pd.DataFrame:
    """A small binary problem with a categorical column, a group and a sensitive column."""
    rng = np.random.default_rng(0)
    n = 240
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    sex = rng.choice(["f", "m"], n)
    y = ((x1 + 0.5 * x2 + (sex == "m") * 0.6 + rng.normal(0, 0.5, n)) > 0.3).astype(int)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "color": rng.choice(["red", "green", "blue"], n),
            "store": rng.integers(0, 12, n),
            "sex": sex,
            "label": y,
        }
    )


@pytest.fixture
def regression() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 200
    X = rng.normal(size=(n, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(0, 0.3, n) + 10
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
