"""Issue 11 §4: canary weights and stickiness, shadow traffic, switching when an alias moves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import keel
import keel.serving
from keel.serving import EndpointSpec

from .conftest import run, serving
from .test_app import ROW


def two_versions(register_model: Any) -> None:
    from sklearn.ensemble import RandomForestClassifier

    v1 = register_model("iris")
    v2 = register_model("iris", model=RandomForestClassifier(n_estimators=7, random_state=1))
    keel.models.promote(v1.ref, to="champion")
    keel.models.promote(v2.ref, to="challenger")


def test_canary_split_by_weight_and_sticky_by_header(register_model: Any, client: Any) -> None:
    two_versions(register_model)
    spec = EndpointSpec.model_validate(
        {
            "name": "iris",
            "targets": [
                {"model": "iris@champion", "weight": 75},
                {"model": "iris@challenger", "weight": 25},
            ],
            "sticky_header": "X-User",
        }
    )
    app = keel.serving.create_app(spec, context=client.context)

    async def main() -> tuple[list[str], dict[str, set[str]]]:
        async with serving(app) as http:
            free = []
            for _ in range(400):
                r = await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
                free.append(r.headers["x-model-version"])
            sticky: dict[str, set[str]] = {}
            for user in ("ann", "bob", "cy", "dee", "eve", "fay"):
                for _ in range(10):
                    r = await http.post(
                        "/v1/endpoints/iris/predict",
                        json={"inputs": [ROW]},
                        headers={"X-User": user},
                    )
                    sticky.setdefault(user, set()).add(r.json()["model_version"])
        return free, sticky

    free, sticky = run(main())
    share = free.count("iris/2") / len(free)
    assert 0.15 < share < 0.35, share
    assert all(len(v) == 1 for v in sticky.values()), sticky
    log = keel.serving.read_prediction_log("iris", context=client.context)
    assert set(log["model_version"]) == {"iris/1", "iris/2"}  # the answering version is logged


def shadow_app(register_model: Any, client: Any) -> Any:
    two_versions(register_model)
    spec = EndpointSpec.model_validate(
        {
            "name": "iris",
            "targets": [{"model": "iris@champion"}],
            "shadow": {"model": "iris/2"},
            "limits": {"timeout_s": 5},
        }
    )
    return keel.serving.create_app(spec, context=client.context)


def test_a_slow_shadow_never_slows_the_response(register_model: Any, client: Any) -> None:
    app = shadow_app(register_model, client)

    async def main() -> list[float]:
        async with serving(app) as http:
            shadow = app.endpoints["iris"].shadow.model
            original = shadow.runtime.predict

            def slow(batch: Any, proba: bool = False) -> Any:
                time.sleep(0.5)
                return original(batch, proba)

            shadow.runtime.predict = slow
            times = []
            for _ in range(4):
                t0 = time.perf_counter()
                r = await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200 and r.json()["model_version"] == "iris/1"
            await asyncio.sleep(2.5)  # the shadow catches up and its answers are logged
        return times

    times = run(main())
    assert max(times) < 0.25, times
    log = keel.serving.read_prediction_log("iris", context=client.context)
    assert len(log) == 4 and set(log["shadow_version"]) == {"iris/2"}
    assert log["shadow_outputs"].notna().all() and (log["shadow_latency_ms"] >= 400).all()
    assert log["shadow_agreement"].between(0, 1).all()


def test_a_failing_shadow_never_fails_the_response(register_model: Any, client: Any) -> None:
    app = shadow_app(register_model, client)

    async def main() -> list[Any]:
        async with serving(app) as http:

            def broken(batch: Any, proba: bool = False) -> Any:
                raise RuntimeError("shadow exploded")

            app.endpoints["iris"].shadow.model.runtime.predict = broken
            replies = [
                await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
                for _ in range(3)
            ]
            await asyncio.sleep(0.3)  # the shadow runs after the answer
            metrics = (await http.get("/metrics")).text
        return [*replies, metrics]

    *replies, metrics = run(main())
    assert all(r.status_code == 200 and r.json()["predictions"] == [0] for r in replies)
    log = keel.serving.read_prediction_log("iris", context=client.context)
    assert log["shadow_error"].str.contains("shadow exploded").all()
    assert (
        'keel_shadow_requests_total{endpoint="iris",model_version="iris/2",outcome="error"} 3.0'
        in metrics
    )


def test_promoting_under_load_switches_without_failing_a_request(
    register_model: Any, client: Any
) -> None:
    from sklearn.ensemble import RandomForestClassifier

    v1 = register_model("iris")
    register_model("iris", model=RandomForestClassifier(n_estimators=7, random_state=1))
    keel.models.promote(v1.ref, to="champion")
    spec = EndpointSpec.model_validate(
        {"name": "iris", "targets": [{"model": "iris@champion"}], "poll_interval_s": 0.2}
    )
    app = keel.serving.create_app(spec, context=client.context)

    async def main() -> list[tuple[float, int, str]]:
        results: list[tuple[float, int, str]] = []
        async with serving(app) as http:
            stop = time.monotonic() + 4.0

            async def user() -> None:
                while time.monotonic() < stop:
                    r = await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
                    results.append(
                        (time.monotonic(), r.status_code, r.headers.get("x-model-version", ""))
                    )

            async def promote() -> None:
                await asyncio.sleep(1.0)
                await asyncio.to_thread(keel.models.promote, "iris/2", to="champion")

            await asyncio.gather(*(user() for _ in range(8)), promote())
        return results

    results = run(main())
    assert len(results) > 200
    assert {status for _, status, _ in results} == {200}  # no request failed or dropped
    versions = [v for _, _, v in results]
    assert versions[0] == "iris/1" and versions[-1] == "iris/2"
    switched = min(t for t, _, v in results if v == "iris/2")
    assert all(v == "iris/2" for t, _, v in results if t > switched + 0.5)
    assert [(s["from"], s["to"]) for s in app.switches] == [("iris/1", "iris/2")]
