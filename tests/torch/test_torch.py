"""keel.torch: the estimator contract, early stopping, per-epoch logging, persistence."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keel  # noqa: E402
from keel.errors import InvalidArgumentError  # noqa: E402
from keel.torch import TorchClassifier, TorchRegressor  # noqa: E402


@pytest.fixture
def iris():
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame.rename(columns={"target": "species"})


@pytest.fixture
def regression():
    import pandas as pd

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(0, 0.3, 200) + 10
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})


def tiny_net(n_features: int, n_outputs: int, width: int = 8):
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, width), torch.nn.Tanh(), torch.nn.Linear(width, n_outputs)
    )


def test_classifier_learns_and_stops_early(iris) -> None:
    X, y = iris.drop(columns="species"), iris["species"]
    clf = TorchClassifier(
        module_params={"hidden": [16]}, lr=0.02, epochs=200, patience=3, validation_fraction=0.2
    ).fit(X, y)
    assert clf.n_epochs_ < 200  # stopped early
    assert clf.best_epoch_ <= clf.n_epochs_ - 1
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(clf.history_[0])
    assert clf.score(X, y) > 0.85
    assert clf.predict_proba(X).shape == (150, 3)
    assert np.allclose(clf.predict_proba(X).sum(axis=1), 1, atol=1e-5)


def test_regressor_with_custom_factory(regression) -> None:
    X, y = regression[["a", "b", "c"]], regression["y"]
    reg = TorchRegressor(
        module=tiny_net, module_params={"width": 16}, lr=0.05, epochs=60, patience=None
    ).fit(X, y)
    assert reg.score(X, y) > 0.8
    assert len(reg.history_) == 60


def test_bad_params_are_clear() -> None:
    with pytest.raises(InvalidArgumentError, match="optimizer 'adamm' is unknown"):
        TorchClassifier(optimizer="adamm").fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(InvalidArgumentError, match="module='nope'"):
        TorchClassifier(module="nope").fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_train_logs_epochs_and_the_model_reloads(client, iris) -> None:
    result = keel.train(
        TorchClassifier(module_params={"hidden": [16]}, lr=0.02, epochs=15),
        iris,
        target="species",
        experiment="torch",
        cv=2,
        evaluation=["accuracy"],
    )
    history = client.get_metric_history(result.run_id, "epoch.train_loss")
    assert len(history) == result.model.n_epochs_
    assert history[-1].value < history[0].value
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"model/model.pt", "model/keel-model.json", "model/input_example.json"} <= names
    loaded = keel.torch.load_model(result.run_id)
    X = iris.drop(columns="species")
    assert np.allclose(loaded.predict_proba(X), result.model.predict_proba(X), atol=1e-6)
    # Registered, the whole estimator (input scaling, classes) comes back from the registry.
    version = keel.models.register(result.run_id, "iris-torch")
    assert version.format == "keel_torch"
    assert version.signature["inputs"]
    served = keel.models.load("iris-torch/1")
    assert np.allclose(served.predict_proba(X), result.model.predict_proba(X), atol=1e-6)
    assert list(served.classes_) == list(result.model.classes_)


def test_custom_module_persists_with_input_scaling(client, regression) -> None:
    X, y = regression[["a", "b", "c"]], regression["y"]
    with keel.start_run(experiment="torch"):
        reg = TorchRegressor(module=tiny_net, epochs=5).fit(X, y)
        run_id = keel.active_run().id
        keel.torch.log_model(reg)
    loaded = keel.torch.load_model(run_id)
    assert np.allclose(loaded.predict(X), reg.predict(X), atol=1e-5)
