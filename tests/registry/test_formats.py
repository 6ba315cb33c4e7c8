"""Each flavor round-trips through its safe format, verified on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import keel
from keel.errors import InvalidArgumentError


def test_xgboost_is_stored_as_native_json(client: Any, iris_xy: Any) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = iris_xy
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, y)
    with keel.start_run(experiment="fmt"):
        v = keel.log_model(model, name="xgb", input_example=X.head(5)).version
    assert (v.flavor, v.format, v.file("model").path) == (
        "xgboost",
        "xgboost_json",
        "model/model.json",
    )
    loaded = keel.models.load("xgb/1")
    np.testing.assert_allclose(
        loaded.predict_proba(X.head(10)), model.predict_proba(X.head(10)), atol=1e-6
    )
    # onnxmltools is optional: without it the export is skipped with the reason recorded.
    assert "kept" in v.details["onnx"]


def test_lightgbm_is_stored_as_native_text(client: Any, iris_xy: Any) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = iris_xy
    model = lgb.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(X, y)
    with keel.start_run(experiment="fmt"):
        v = keel.log_model(model, name="lgb", input_example=X.head(5)).version
    assert (v.flavor, v.format) == ("lightgbm", "lightgbm_txt")
    loaded = keel.models.load("lgb@latest")
    np.testing.assert_allclose(
        loaded.predict_proba(X.head(10)), model.predict_proba(X.head(10)), atol=1e-9
    )
    assert list(loaded.predict(X.head(10))) == list(model.predict(X.head(10)))


def test_torch_state_dict_with_import_path_and_kwargs(
    client: Any, iris_xy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from tests_registry_torch_net import IrisNet  # type: ignore[import-not-found]

    X, _ = iris_xy
    net = IrisNet(n_in=4, n_out=3)
    x = X.head(5).to_numpy(dtype=np.float32)
    with keel.start_run(experiment="fmt"):
        v = keel.log_model(net, name="net", input_example=x).version
    assert (v.flavor, v.format) == ("torch", "torch_state_dict")
    assert v.details["init_kwargs"] == {"n_in": 4, "n_out": 3}
    assert v.details["estimator_class"] == "tests_registry_torch_net.IrisNet"
    onnx = v.details["onnx"]
    assert onnx["kept"], onnx
    loaded = keel.models.load("net/1")
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded(torch.from_numpy(x)).numpy(), net(torch.from_numpy(x)).numpy()
        )


def test_unknown_objects_need_an_explicit_format(client: Any) -> None:
    with (
        keel.start_run(experiment="fmt"),
        pytest.raises(InvalidArgumentError, match="format='pickle'"),
    ):
        keel.log_model(object(), name="thing")
    with keel.start_run(experiment="fmt"), pytest.raises(InvalidArgumentError, match="formats are"):
        keel.log_model(object(), name="thing", format="joblib")
    assert client.store.registry.list_models() == []
