"""Issue 11 §1: the stored Endpoint noun through the service (``keel.serving.endpoints``),
and ``create_app(NAME)`` serving a stored endpoint and following its revisions."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

import keel
import keel.serving
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.serving import endpoints
from keel.store import LineageNode, ModelStateError

from .conftest import run, serving
from .test_app import ROW


@pytest.fixture
def two_versions(register_model: Any) -> tuple[Any, Any]:
    """iris/1 (champion) and iris/2 (challenger)."""
    from sklearn.ensemble import RandomForestClassifier

    v1 = register_model("iris")
    v2 = register_model("iris", model=RandomForestClassifier(n_estimators=7, random_state=1))
    keel.models.promote(v1.ref, to="champion")
    keel.models.promote(v2.ref, to="challenger")
    return v1, v2


def test_create_resolves_targets_and_records_audit_and_lineage(
    two_versions: Any, client: Any
) -> None:
    created = endpoints.create(
        {
            "name": "iris",
            "targets": [{"model": "iris@champion", "weight": 90}],
            "shadow": {"model": "iris@challenger"},
        },
        reason="launch",
    )
    assert created.revision == 1 and created.model_versions == ("iris/1", "iris/2")
    # every setting is stored explicitly, defaults included
    assert created.spec["batching"]["max_wait_ms"] == 2.0
    assert created.spec["targets"] == [{"model": "iris@champion", "weight": 90.0}]
    assert endpoints.spec("iris").shadow is not None
    ctx = client.context
    event = ctx.store.governance.latest_event("endpoint", "iris", "endpoint.")
    assert event is not None and event.reason == "launch" and event.actor == ctx.actor
    up = ctx.store.lineage.upstream(LineageNode("endpoint", "iris"))
    served_by = {e.source.id for e in up.edges if e.target == LineageNode("endpoint", "iris")}
    assert served_by == {"iris/1", "iris/2"}
    assert keel.governance.verify().ok


def test_create_refuses_what_cannot_be_served(two_versions: Any, client: Any) -> None:
    with pytest.raises(NotFoundError, match="alias"):
        endpoints.create({"name": "iris", "targets": [{"model": "iris@nope"}]})
    with pytest.raises(InvalidArgumentError, match="targets.0.weigth: unknown key"):
        endpoints.create({"name": "iris", "targets": [{"model": "iris/1", "weigth": 2}]})
    keel.models.promote("iris/1", to="challenger")
    keel.models.archive("iris/2")
    with pytest.raises(ModelStateError, match="iris/2 is archived"):
        endpoints.create({"name": "iris", "targets": [{"model": "iris/2"}]})
    assert endpoints.list() == []


def test_update_merges_flags_and_replaces_whole_specs(
    two_versions: Any, client: Any, tmp_path: Path
) -> None:
    endpoints.create({"name": "iris", "targets": [{"model": "iris@champion"}]})
    merged = endpoints.update("iris", {"batching": {"max_wait_ms": 5}, "log_sample_rate": 0.5})
    assert merged.revision == 2
    assert merged.spec["batching"] == {
        "enabled": True,
        "max_batch_rows": 64,
        "max_wait_ms": 5.0,
        "max_queue_rows": 8192,
    }
    assert merged.spec["log_sample_rate"] == 0.5
    # the same settings again: no new revision
    assert endpoints.update("iris", {"log_sample_rate": 0.5}).revision == 2
    yaml_file = tmp_path / "iris.yaml"
    yaml_file.write_text("targets:\n  - {model: iris@challenger}\n")
    replaced = endpoints.update("iris", yaml_file, reason="switch")
    assert replaced.revision == 3 and replaced.model_versions == ("iris/2",)
    assert replaced.spec["log_sample_rate"] == 1.0  # a whole spec: defaults again
    with pytest.raises(ConflictError, match="revision 3"):
        endpoints.update("iris", {"log_sample_rate": 0.1}, expected_revision=2)
    with pytest.raises(InvalidArgumentError, match="cannot be renamed"):
        endpoints.update("iris", {"name": "other"})
    with pytest.raises(InvalidArgumentError, match="log_sample_rate"):
        endpoints.update("iris", {"log_sample_rate": 7})
    assert [r.action for r in endpoints.history("iris")] == ["create", "update", "update"]
    endpoints.delete("iris", reason="done")
    with pytest.raises(NotFoundError, match="was deleted"):
        endpoints.get("iris")


def _predict_loop(http: Any, stop: float, results: list[tuple[float, int, str]]) -> Any:
    async def user() -> None:
        while time.monotonic() < stop:
            r = await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
            results.append((time.monotonic(), r.status_code, r.headers.get("x-model-version", "")))

    return user()


def test_a_served_endpoint_follows_its_revisions_without_failing_a_request(
    two_versions: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints.create({"name": "iris", "targets": [{"model": "iris/1"}], "poll_interval_s": 0.2})
    app = keel.serving.create_app("iris", context=client.context)

    async def main() -> tuple[list[tuple[float, int, str]], Any]:
        results: list[tuple[float, int, str]] = []
        async with serving(app) as http:
            assert app.stored["iris"].revision == 1
            stop = time.monotonic() + 4.0

            async def change() -> None:
                await asyncio.sleep(1.0)
                await asyncio.to_thread(
                    endpoints.update, "iris", {"targets": [{"model": "iris/2"}]}
                )

            await asyncio.gather(*(_predict_loop(http, stop, results) for _ in range(8)), change())
            listing = (await http.get("/v1/endpoints")).json()
        return results, listing

    with caplog.at_level("WARNING", logger="keel.serving"):
        results, listing = run(main())
    assert len(results) > 200
    assert {status for _, status, _ in results} == {200}  # no request failed or dropped
    versions = [v for _, _, v in results]
    assert versions[0] == "iris/1" and versions[-1] == "iris/2"
    switched = min(t for t, _, v in results if v == "iris/2")
    assert all(v == "iris/2" for t, _, v in results if t > switched + 0.5)
    assert listing["endpoints"][0]["stored"] == {"revision": 2, "deleted": False}
    assert listing["switches"][-1]["from"] == "revision 1"
    assert listing["switches"][-1]["to"] == "revision 2"
    assert "revision 2 (by" in caplog.text and "replaced revision 1" in caplog.text


def test_a_revision_that_cannot_load_leaves_the_old_one_serving(
    two_versions: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints.create({"name": "iris", "targets": [{"model": "iris/1"}], "poll_interval_s": 0.1})
    app = keel.serving.create_app("iris", context=client.context)
    corrupt: dict[str, Any] = {}

    def loader(ref: str, spec: Any, **kwargs: Any) -> Any:
        if ref == "iris/2" and corrupt:
            raise RuntimeError("iris/2 does not load")
        from keel.serving._models import load_served_model

        return load_served_model(ref, spec, **kwargs)

    app._loader = loader

    async def main() -> list[int]:
        async with serving(app) as http:
            corrupt["on"] = True
            await asyncio.to_thread(endpoints.update, "iris", {"targets": [{"model": "iris/2"}]})
            await asyncio.sleep(0.5)
            codes = [
                (await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]}))
                for _ in range(5)
            ]
            assert app.stored["iris"].failed == 2
            # deleting the record does not drop live traffic
            await asyncio.to_thread(endpoints.delete, "iris")
            await asyncio.sleep(0.4)
            codes.append(await http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]}))
            assert app.stored["iris"].to_dict() == {"revision": 1, "deleted": True}
        return [r.status_code for r in codes if r.headers["x-model-version"] == "iris/1"]

    with caplog.at_level("WARNING", logger="keel.serving"):
        assert run(main()) == [200] * 6
    assert "revision 2 cannot be served (iris/2 does not load)" in caplog.text
    assert "was deleted" in caplog.text and caplog.text.count("was deleted") == 1


def test_serving_a_name_that_is_not_stored_lists_the_endpoints(
    two_versions: Any, client: Any
) -> None:
    endpoints.create({"name": "adult", "targets": [{"model": "iris/1"}]})
    app = keel.serving.create_app("irs", context=client.context)
    with pytest.raises(NotFoundError, match="endpoints are: adult"):
        run(app.startup())


REGISTER_TWO = """
import keel
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from keel.serving import endpoints
X, y = load_iris(return_X_y=True, as_frame=True)
for n in (5, 7):
    with keel.start_run(experiment="iris"):
        model = RandomForestClassifier(n_estimators=n, random_state=0).fit(X, y)
        keel.log_model(model, name="iris", input_example=X.head(5))
endpoints.create({"name": "iris", "targets": [{"model": "iris/1"}], "poll_interval_s": 0.3})
"""


def test_keel_serve_a_stored_endpoint_with_workers_follows_keel_endpoints_update(
    tmp_path: Path,
) -> None:
    """The whole path as a user runs it: a stored endpoint, ``keel serve NAME --workers 2``,
    ``keel endpoints update`` from another process, every worker switching."""
    import os
    import subprocess
    import sys

    import httpx

    from .conftest import Server, keel_env

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(keel_env(home))
    subprocess.run([sys.executable, "-c", REGISTER_TWO], env=env, cwd=home, check=True, timeout=300)
    srv = Server(home, ["iris", "--workers", "2"])
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            first = {
                http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]}).headers[
                    "x-model-version"
                ]
                for _ in range(20)
            }
            assert first == {"iris/1"}
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from keel.cli import main; main()",
                    "endpoints",
                    "update",
                    "iris",
                    "--target",
                    "iris/2",
                ],
                env=env,
                cwd=home,
                check=True,
                timeout=120,
            )
            deadline = time.monotonic() + 30
            seen: list[str] = []
            while time.monotonic() < deadline:
                r = http.post("/v1/endpoints/iris/predict", json={"inputs": [ROW]})
                assert r.status_code == 200
                seen.append(r.headers["x-model-version"])
                if seen[-20:] == ["iris/2"] * 20:
                    break
                time.sleep(0.05)
            assert seen[-20:] == ["iris/2"] * 20, seen[-40:]
    finally:
        srv.stop()
    assert "replaced revision 1" in srv.log_path.read_text()
