"""The routes of issue 11 §2, in process (httpx on the ASGI app)."""

from __future__ import annotations

import re
from typing import Any

import pytest

import keel.serving

from .conftest import run, serving

ROW = {
    "sepal length (cm)": 5.1,
    "sepal width (cm)": 3.5,
    "petal length (cm)": 1.4,
    "petal width (cm)": 0.2,
}
ROW2 = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}
COLUMNS = list(ROW)


def call(app: Any, *requests: tuple[str, str, dict[str, Any]]) -> list[Any]:
    async def main() -> list[Any]:
        out = []
        async with serving(app) as http:
            for method, url, kwargs in requests:
                out.append(await http.request(method, url, **kwargs))
        return out

    return list(run(main()))


def test_plain_predict_rows_columns_and_probabilities(iris_champion: Any, client: Any) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    rows, cols, proba = call(
        app,
        ("POST", "/v1/endpoints/iris/predict", {"json": {"inputs": [ROW, ROW2]}}),
        (
            "POST",
            "/v1/models/iris/predict",
            {"json": {"inputs": {c: [ROW[c], ROW2[c]] for c in COLUMNS}}},
        ),
        ("POST", "/v1/endpoints/iris/predict?proba=true", {"json": {"inputs": [ROW]}}),
    )
    assert rows.status_code == 200, rows.text
    assert rows.json()["predictions"] == [0, 2]
    assert cols.json()["predictions"] == [0, 2]
    body = proba.json()
    assert body["classes"] == [0, 1, 2]
    assert len(body["probabilities"][0]) == 3 and abs(sum(body["probabilities"][0]) - 1) < 1e-5
    for r in (rows, cols, proba):
        assert r.headers["x-model-version"] == "iris/1" == r.json()["model_version"]
        assert r.headers["x-request-id"] == r.json()["request_id"]
    assert app.endpoints["iris"].targets[0].model.runtime.kind == "onnx"


def test_the_callers_request_id_is_kept(iris_champion: Any, client: Any) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    (r,) = call(
        app,
        (
            "POST",
            "/v1/endpoints/iris/predict",
            {"json": {"inputs": [ROW]}, "headers": {"X-Request-Id": "abc-123"}},
        ),
    )
    assert r.headers["x-request-id"] == "abc-123" == r.json()["request_id"]


def test_mlflow_payload_shapes_and_invocations(iris_champion: Any, client: Any) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    split = {
        "dataframe_split": {"columns": COLUMNS[::-1], "data": [[ROW[c] for c in COLUMNS[::-1]]]}
    }
    replies = call(
        app,
        ("POST", "/invocations", {"json": split}),
        ("POST", "/invocations", {"json": {"dataframe_records": [ROW, ROW2]}}),
        ("POST", "/invocations", {"json": {"instances": [[ROW[c] for c in COLUMNS]]}}),
        ("POST", "/invocations", {"json": {"inputs": {c: [ROW2[c]] for c in COLUMNS}}}),
        (
            "POST",
            "/invocations",
            {
                "content": ",".join(COLUMNS) + "\n5.1,3.5,1.4,0.2\n",
                "headers": {"content-type": "text/csv"},
            },
        ),
        ("POST", "/v1/endpoints/iris/predict", {"json": {"dataframe_records": [ROW2]}}),
        ("GET", "/ping", {}),
    )
    assert [r.json()["predictions"] for r in replies[:6]] == [[0], [0, 2], [0], [2], [0], [2]]
    assert replies[6].status_code == 200
    bad = call(app, ("POST", "/invocations", {"json": {"dataframe_records": [{"x": 1}]}}))[0]
    assert bad.status_code == 400 and bad.json()["error_code"] == "BAD_REQUEST"


def test_open_inference_protocol(iris_champion: Any, client: Any) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    tensor = {
        "id": "req-1",
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 4],
                "datatype": "FP32",
                "data": [ROW[c] for c in COLUMNS] + [ROW2[c] for c in COLUMNS],
            }
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    per_column = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": c,
                "shape": [2],
                "datatype": "FP64",
                "data": [ROW[c], ROW2[c]],
                "parameters": {"content_type": "np"},
            }
            for c in COLUMNS
        ],
    }
    server, live, ready, meta, vmeta, mready, infer, pd_infer, vinfer, bad, unknown = call(
        app,
        ("GET", "/v2", {}),
        ("GET", "/v2/health/live", {}),
        ("GET", "/v2/health/ready", {}),
        ("GET", "/v2/models/iris", {}),
        ("GET", "/v2/models/iris/versions/1", {}),
        ("GET", "/v2/models/iris/ready", {}),
        ("POST", "/v2/models/iris/infer", {"json": tensor}),
        ("POST", "/v2/models/iris/infer", {"json": per_column}),
        ("POST", "/v2/models/iris/versions/1/infer", {"json": per_column}),
        (
            "POST",
            "/v2/models/iris/infer",
            {
                "json": {
                    "inputs": [
                        {"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1.0] * 7}
                    ]
                }
            },
        ),
        ("POST", "/v2/models/nope/infer", {"json": tensor}),
    )
    assert server.json()["name"] == "keel" and live.status_code == ready.status_code == 200
    assert meta.json()["inputs"][0] == {
        "name": "sepal length (cm)",
        "datatype": "FP64",
        "shape": [-1],
    }
    assert [o["name"] for o in meta.json()["outputs"]] == ["predict", "predict_proba"]
    assert vmeta.json()["versions"] == ["1"] and mready.json()["ready"] is True
    out = infer.json()
    assert out["id"] == "req-1" and out["model_name"] == "iris" and out["model_version"] == "1"
    assert out["outputs"][0] == {
        "name": "predict",
        "shape": [2],
        "datatype": "INT64",
        "data": [0, 2],
    }
    assert out["outputs"][1]["shape"] == [2, 3] and len(out["outputs"][1]["data"]) == 6
    assert infer.headers["x-request-id"] == "req-1"
    assert pd_infer.json()["outputs"][0]["data"] == [0, 2] == vinfer.json()["outputs"][0]["data"]
    assert bad.status_code == 400 and set(bad.json()) == {"error"}
    assert "shape [2, 4] needs 8 values but data has 7" in bad.json()["error"]
    assert unknown.status_code == 404 and "served: iris" in unknown.json()["error"]


@pytest.fixture
def colors_model(register_model: Any, binary: Any) -> Any:
    """A pipeline with a string column (native runtime, pandas on its path)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import keel

    X, y = binary[["x1", "x2", "color"]], binary["label"]
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("oh", OneHotEncoder(handle_unknown="error"), ["color"])],
                    remainder="passthrough",
                ),
            ),
            ("lr", LogisticRegression()),
        ]
    ).fit(X, y)
    with keel.start_run(experiment="colors"):
        version = keel.log_model(pipe, name="colors", input_example=X.head(5)).version
    return version


def test_string_columns_as_oip_bytes_and_plain_rows(colors_model: Any, client: Any) -> None:
    app = keel.serving.create_app("colors/1", context=client.context)
    oip = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "x1", "shape": [2], "datatype": "FP64", "data": [0.1, 2.0]},
            {"name": "x2", "shape": [2], "datatype": "FP64", "data": [0.3, 1.0]},
            {"name": "color", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]},
        ],
    }
    infer, plain, wrong_type, unseen = call(
        app,
        ("POST", "/v2/models/colors/infer", {"json": oip}),
        (
            "POST",
            "/v1/endpoints/colors/predict?proba=true",
            {"json": {"inputs": [{"x1": 0.1, "x2": 0.3, "color": "red"}]}},
        ),
        (
            "POST",
            "/v1/endpoints/colors/predict",
            {"json": {"inputs": [{"x1": 0.1, "x2": 0.3, "color": 3}]}},
        ),
        (
            "POST",
            "/v1/endpoints/colors/predict",
            {"json": {"inputs": [{"x1": 0.1, "x2": 0.3, "color": "purple"}]}},
        ),
    )
    assert infer.status_code == 200, infer.text
    assert len(infer.json()["outputs"][0]["data"]) == 2
    assert plain.status_code == 200 and len(plain.json()["probabilities"][0]) == 2
    assert app.endpoints["colors"].targets[0].model.runtime.kind == "native"
    assert wrong_type.status_code == 400
    assert wrong_type.json()["field"] == "inputs[0].color"
    assert "expected a string" in wrong_type.json()["detail"]
    assert unseen.status_code == 422 and "could not predict" in unseen.json()["detail"]


def test_explain_with_tree_explainer_and_base_value(iris_champion: Any, client: Any) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    (r,) = call(app, ("POST", "/v1/endpoints/iris/explain", {"json": {"inputs": [ROW, ROW2]}}))
    body = r.json()
    assert r.status_code == 200, r.text
    assert body["explainer"] == "tree" and body["model_version"] == "iris/1"
    first = body["explanations"][0]
    assert first["prediction"] == 0 and set(first["values"]) == set(COLUMNS)
    # SHAP's additivity: base value + contributions = the predicted class's probability
    assert 0.5 < first["base_value"] + sum(first["values"].values()) <= 1.0 + 1e-6


def test_explain_uses_the_recipe_keel_train_stored(client: Any, iris: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    import keel

    result = keel.train(
        LogisticRegression(max_iter=500), data=iris, target="species", cv=2, progress=False
    )
    keel.models.register(result.run_id, "iris-lr")
    app = keel.serving.create_app("iris-lr/1", context=client.context)
    (r,) = call(app, ("POST", "/v1/models/iris-lr/explain", {"json": {"inputs": [ROW]}}))
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "recipe" and r.json()["explainer"] in ("linear", "permutation")


def test_feedback_by_request_id_with_unknown_ids_reported(iris_champion: Any, client: Any) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)

    async def main() -> tuple[Any, Any]:
        async with serving(app) as http:
            r = await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
            rid = r.json()["request_id"]
            one = await http.post("/v1/feedback", json={"request_id": rid, "label": 0})
            many = await http.post(
                "/v1/feedback",
                json={
                    "feedback": [
                        {"request_id": rid, "label": 1},
                        {"request_id": "never-seen", "label": 2},
                    ]
                },
            )
            return one, many

    one, many = run(main())
    assert one.json()["accepted"] == 1 and one.json()["unknown_request_ids"] == []
    assert many.json()["accepted"] == 1 and many.json()["unknown_request_ids"] == ["never-seen"]
    feedback = keel.serving.read_feedback("iris", context=client.context)
    assert len(feedback) == 2 and set(feedback["model_version"]) == {"iris/1"}


def test_metrics_follow_prometheus_naming_with_bounded_labels(
    iris_champion: Any, client: Any
) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    *_, metrics = call(
        app,
        ("POST", "/v1/endpoints/iris/predict", {"json": {"inputs": [ROW]}}),
        ("POST", "/v2/models/iris/infer", {"json": {"inputs": "x"}}),
        ("GET", "/some/random/path/123", {}),
        ("GET", "/v2/models/iris/zzz", {}),
        ("GET", "/metrics", {}),
    )
    text = metrics.text
    assert (
        'keel_requests_total{endpoint="iris",model_version="iris/1",route="/v1/endpoints/{name}/predict",status="2xx"} 1.0'
        in text
    )
    assert 'route="/v2/models/{model}/infer",status="4xx"' in text
    assert 'route="other"' in text and "random" not in text and "zzz" not in text
    for name in (
        "keel_request_duration_seconds_bucket",
        "keel_batch_size_rows_bucket",
        "keel_batch_dispatches_total",
        "keel_batch_oldest_queue_delay_seconds_bucket",
        "keel_queue_depth_rows",
        "keel_prediction_log_dropped_total",
        "keel_model_info",
    ):
        assert name in text, name
    labels = set(re.findall(r'request_id="', text))
    assert not labels


def test_archived_and_corrupted_versions_are_refused(register_model: Any, client: Any) -> None:
    import keel
    from keel.errors import ArtifactCorruptedError
    from keel.store import ModelStateError

    register_model("iris")
    keel.models.archive("iris/1", reason="superseded")
    with pytest.raises(ModelStateError, match="archived"):
        run(keel.serving.create_app("iris/1", context=client.context).startup())
    v2 = register_model("iris")
    onnx = v2.file("onnx")
    path = client.artifacts.local_path(onnx.sha256)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ArtifactCorruptedError, match="model.onnx"):
        run(keel.serving.create_app("iris/2", context=client.context).startup())


def test_serving_never_loads_a_pickle(register_model: Any, client: Any) -> None:
    from keel.registry import UnsafeFormatError

    register_model("pickled", format="pickle", onnx=False)
    with pytest.raises(UnsafeFormatError, match="pickle"):
        run(
            keel.serving.create_app("pickled/1", context=client.context, runtime="native").startup()
        )


def test_a_wrong_route_method_or_endpoint_names_what_exists(
    iris_champion: Any, client: Any
) -> None:
    app = keel.serving.create_app("iris@champion", context=client.context)
    unknown, method = call(
        app,
        ("POST", "/v1/endpoints/irsi/predict", {"json": {"inputs": [ROW]}}),
        ("GET", "/v1/endpoints/iris/predict", {}),
    )
    assert unknown.status_code == 404 and "served: iris" in unknown.json()["detail"]
    assert method.status_code == 405
