"""Endpoints that look their features up online: train on historical features, serve
with online features for the same entities and times, and the model sees identical
values (training/serving skew zero on that data); the prediction log records them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import keel
import keel.features as kf
import keel.serving
from keel.data import register as register_dataset
from keel.serving import EndpointSpec

from .conftest import run, serving

NOW = pd.Timestamp.now(tz="UTC").floor("s")
CUSTOMERS = 40


@pytest.fixture
def churn(client: Any) -> dict[str, Any]:
    """Two views over generated data, a service, a model trained on historical features."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(7)
    n = 600
    spend = pd.DataFrame(
        {
            "customer_id": rng.integers(0, CUSTOMERS, n),
            "ts": NOW - pd.to_timedelta(rng.integers(3600, 60 * 86400, n), unit="s"),
            "amount_7d": rng.gamma(2.0, 30.0, n).round(2),
            "orders_7d": rng.integers(0, 12, n),
        }
    )
    profile = pd.DataFrame(
        {
            "customer_id": np.arange(CUSTOMERS),
            "updated": NOW - pd.Timedelta(days=90),
            "age": rng.integers(18, 80, CUSTOMERS),
            "tenure_days": rng.uniform(10, 2000, CUSTOMERS),
        }
    )
    register_dataset(spend, "spend-raw")
    register_dataset(profile, "profile-raw")
    kf.apply(
        [
            kf.Entity(name="customer", join_keys={"customer_id": "int64"}),
            kf.FeatureView(
                name="spend",
                entities=["customer"],
                timestamp="ts",
                ttl="365d",
                source="spend-raw",
                features={"amount_7d": "float64", "orders_7d": "int64"},
            ),
            kf.FeatureView(
                name="profile",
                entities=["customer"],
                timestamp="updated",
                source="profile-raw",
                features={"age": "int64", "tenure_days": "float64"},
            ),
            kf.FeatureService(
                name="churn",
                features=[
                    "spend:amount_7d",
                    "spend:orders_7d",
                    "profile:age",
                    "profile:tenure_days",
                ],
            ),
        ]
    )
    # training events over the last weeks, labelled by a rule on the features
    events = pd.DataFrame(
        {
            "customer_id": rng.integers(0, CUSTOMERS, 400),
            "event_timestamp": NOW - pd.to_timedelta(rng.integers(0, 30 * 86400, 400), unit="s"),
        }
    )
    train = kf.get_historical_features(events, "churn").to_pandas().dropna()
    train["churned"] = ((train["orders_7d"] < 5) & (train["age"] > 40)).astype(int)
    columns = ["amount_7d", "orders_7d", "age", "tenure_days"]
    result = keel.train(
        RandomForestClassifier(n_estimators=10, random_state=0),
        train[[*columns, "churned"]],
        target="churned",
        cv=None,
        evaluation=False,
        experiment="churn",
    )
    version = keel.models.register(result.run_id, "churn")
    keel.models.promote(version.ref, to="champion")
    return {"columns": columns, "model": result.model}


def _app(client: Any, **extra: Any) -> Any:
    spec = EndpointSpec.model_validate(
        {
            "name": "churn",
            "targets": [{"model": "churn@champion"}],
            "feature_service": "churn",
            **extra,
        }
    )
    return keel.serving.create_app(spec, context=client.context)


def test_training_and_serving_see_identical_values(churn: dict[str, Any], client: Any) -> None:
    report = kf.materialize()
    assert report.rows > 0
    ids = list(range(CUSTOMERS))
    app = _app(client)

    async def main() -> list[Any]:
        async with serving(app) as http:
            answers = [
                await http.post(
                    "/v1/endpoints/churn/predict",
                    json={"inputs": [{"customer_id": i} for i in ids]},
                ),
                await http.post(
                    "/v1/endpoints/churn/predict", json={"inputs": {"customer_id": [3]}}
                ),
            ]
        return answers

    many, one = run(main())
    assert many.status_code == 200, many.text
    assert one.status_code == 200, one.text
    # what training would have seen for these entities at this moment
    served_at = pd.DataFrame({"customer_id": ids, "event_timestamp": NOW})
    offline = kf.get_historical_features(served_at, "churn").to_pandas()
    log = keel.serving.read_prediction_log("churn", context=client.context)
    assert len(log) == 2
    logged = log.sort_values("rows", ascending=False).iloc[0]
    inputs = pd.DataFrame(json.loads(logged["inputs"]))
    columns = churn["columns"]
    offline_values = offline[columns].astype(float).to_numpy()
    online_values = inputs[columns].astype(float).to_numpy()
    assert np.array_equal(offline_values, online_values)  # zero skew, value for value
    assert [e["customer_id"] for e in json.loads(logged["entities"])] == ids
    ages = json.loads(logged["feature_ages"])
    assert set(ages) == set(columns) and all(a is not None and a >= 0 for a in ages["age"])
    # and the model's answers are those of the trained model on the offline rows
    expected = churn["model"].predict(offline[columns]).tolist()
    assert many.json()["predictions"] == expected
    assert one.json()["predictions"] == [expected[3]]


def test_missing_entities_and_bad_requests(churn: dict[str, Any], client: Any) -> None:
    kf.materialize()
    lenient = _app(client, allow_missing=True)
    strict = _app(client)

    async def main(app: Any, *bodies: Any) -> list[Any]:
        async with serving(app) as http:
            return [await http.post("/v1/endpoints/churn/predict", json=b) for b in bodies]

    (unknown,) = run(main(lenient, {"inputs": [{"customer_id": 10_000}]}))
    assert unknown.status_code == 200, unknown.text  # nulls, and the forest copes
    refused, wrong_key, wrong_type, good = run(
        main(
            strict,
            {"inputs": [{"customer_id": 1}, {"customer_id": 10_000}]},
            {"inputs": [{"client_id": 1}]},
            {"inputs": [{"customer_id": "one"}]},
            {"inputs": [{"customer_id": 1}]},
        )
    )
    assert refused.status_code == 422
    assert "entity {customer_id=10000} has no value for feature 'amount_7d'" in refused.text
    assert "not materialized" in refused.text
    assert wrong_key.status_code == 400 and "missing column(s) 'customer_id'" in wrong_key.text
    assert wrong_type.status_code == 400 and "expected an integer" in wrong_type.text
    assert good.status_code == 200, good.text
    log = keel.serving.read_prediction_log("churn", context=client.context)
    assert len(log) == 2  # the unknown entity (lenient) and the good request only


def test_oip_is_refused_for_feature_endpoints(churn: dict[str, Any], client: Any) -> None:
    async def main() -> Any:
        async with serving(_app(client)) as http:
            return await http.post(
                "/v2/models/churn/infer",
                json={
                    "inputs": [
                        {"name": "customer_id", "shape": [1], "datatype": "INT64", "data": [1]}
                    ]
                },
            )

    answer = run(main())
    assert answer.status_code == 400 and "/v1/endpoints/churn/predict" in answer.text


def test_an_unknown_service_stops_the_start(churn: dict[str, Any], client: Any) -> None:
    app = keel.serving.create_app(
        EndpointSpec.model_validate(
            {"name": "churn", "targets": [{"model": "churn@champion"}], "feature_service": "nope"}
        ),
        context=client.context,
    )
    with pytest.raises(kf.FeatureNotFoundError, match="feature service 'nope' is not registered"):
        run(app.startup())


@pytest.mark.slow
def test_keel_serve_looks_features_up_over_http(
    churn: dict[str, Any], client: Any, keel_home: Any
) -> None:
    """A stored endpoint naming the service, served by ``keel serve NAME`` on 127.0.0.1."""
    import httpx

    from .conftest import Server

    kf.materialize()
    keel.serving.endpoints.create(
        {"name": "churn", "targets": [{"model": "churn@champion"}], "feature_service": "churn"}
    )
    client.close()
    server = Server(keel_home.parent, ["churn"])
    try:
        answer = httpx.post(
            f"{server.url}/v1/endpoints/churn/predict",
            json={"inputs": [{"customer_id": 5}, {"customer_id": 6}]},
            timeout=30,
        )
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    offline = kf.get_historical_features(
        pd.DataFrame({"customer_id": [5, 6], "event_timestamp": NOW}), "churn"
    ).to_pandas()
    expected = churn["model"].predict(offline[churn["columns"]]).tolist()
    assert answer.json()["predictions"] == expected


def test_a_stored_endpoint_links_its_feature_service(churn: dict[str, Any], client: Any) -> None:
    from keel.store import LineageNode

    with pytest.raises(kf.FeatureNotFoundError, match="feature service 'nope' is not registered"):
        keel.serving.endpoints.create(
            {"name": "churn", "targets": [{"model": "churn@champion"}], "feature_service": "nope"}
        )
    assert keel.serving.endpoints.list() == []  # nothing stored
    keel.serving.endpoints.create(
        {"name": "churn", "targets": [{"model": "churn@champion"}], "feature_service": "churn"}
    )
    graph = client.context.store.lineage.upstream(LineageNode("endpoint", "churn"))
    edges = {(e.source.kind, e.source.id, e.relation) for e in graph.edges}
    assert ("feature_service", "churn/1", "features_for") in edges
    assert ("model_version", "churn/1", "served_by") in edges
