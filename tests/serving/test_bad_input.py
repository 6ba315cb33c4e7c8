"""Issue 11 §7 against a real ``keel serve`` on 127.0.0.1 (one server for this module):
every kind of bad request gets a clear answer in its protocol's shape, a flood of them
leaves the worker answering correctly with flat memory, and the prediction log is
readable while the server runs and complete after SIGTERM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from .conftest import Server, registered_home
from .test_app import COLUMNS, ROW

GOOD = {"inputs": [ROW]}
BIG = 4 * 1024 * 1024 + 10

# (name, method, path, body bytes, headers, status, what the message must say)
CASES: list[tuple[str, str, bytes, dict[str, str], int, str]] = [
    ("/v1/endpoints/iris/predict", "POST", b'{"inputs": [', {}, 400, "not valid JSON"),
    (
        "/v1/endpoints/iris/predict",
        "POST",
        json.dumps(
            {"inputs": [{k: v for k, v in ROW.items() if k != "petal width (cm)"}]}
        ).encode(),
        {},
        400,
        "missing column(s) 'petal width (cm)'",
    ),
    (
        "/v1/endpoints/iris/predict",
        "POST",
        json.dumps({"inputs": [{**ROW, "colour": 1}]}).encode(),
        {},
        400,
        "unknown column(s) 'colour'",
    ),
    (
        "/v1/endpoints/iris/predict",
        "POST",
        json.dumps({"inputs": [{**ROW, "sepal width (cm)": "wide"}]}).encode(),
        {},
        400,
        "inputs[0].sepal width (cm) is string 'wide'; expected a number",
    ),
    (
        "/v1/endpoints/iris/predict",
        "POST",
        json.dumps({"inputs": [{**ROW, "sepal width (cm)": None}]}).encode(),
        {},
        400,
        "does not allow missing values",
    ),
    ("/v1/endpoints/iris/predict", "POST", b'{"inputs": []}', {}, 400, "inputs is empty"),
    (
        "/v1/endpoints/iris/predict",
        "POST",
        json.dumps({"inputs": [ROW] * 10_001}).encode(),
        {},
        413,
        "at most 10000 per request",
    ),
    ("/v1/endpoints/iris/predict", "POST", b"x" * BIG, {}, 413, "at most 4194304"),
    ("/v1/endpoints/nope/predict", "POST", json.dumps(GOOD).encode(), {}, 404, "served: iris"),
    (
        "/v1/endpoints/iris/predict",
        "POST",
        json.dumps(GOOD).encode(),
        {"content-type": "text/plain"},
        415,
        "send application/json or text/csv",
    ),
    (
        "/v2/models/iris/infer",
        "POST",
        json.dumps(
            {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": [1.0] * 11}]}
        ).encode(),
        {},
        400,
        "shape [3, 4] needs 12 values but data has 11",
    ),
    (
        "/v2/models/iris/infer",
        "POST",
        json.dumps(
            {
                "inputs": [
                    {"name": c, "shape": [1], "datatype": "FP64", "data": [1.0]}
                    for c in COLUMNS[:3]
                ]
            }
        ).encode(),
        {},
        400,
        "missing column(s) 'petal width (cm)'",
    ),
    ("/v2/models/nope/infer", "POST", b"{}", {}, 404, "served: iris"),
    (
        "/invocations",
        "POST",
        b'{"dataframe_split": {"columns": ["a"], "data": [[1]]}}',
        {},
        400,
        "expected columns",
    ),
]


def check_reply(r: httpx.Response, path: str, status: int, expected: str) -> None:
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    assert len(r.content) < 2_000  # never echoes the whole input
    body = r.json()
    if path.startswith("/v2"):
        assert set(body) == {"error"} and expected in body["error"], body
    elif path == "/invocations":
        assert body["error_code"] == "BAD_REQUEST" and expected in body["message"], body
    else:
        assert body["status"] == status and expected in body["detail"], body
        assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-request-id"]


def test_every_bad_input_gets_a_named_answer(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for path, method, body, headers, status, expected in CASES:
            r = http.request(
                method, path, content=body, headers={"content-type": "application/json", **headers}
            )
            check_reply(r, path, status, expected)


@pytest.mark.slow
def test_a_flood_of_bad_requests_leaves_the_worker_correct_with_flat_memory(server: Server) -> None:
    small = [c for c in CASES if len(c[2]) < 100_000]
    heavy = [c for c in CASES if len(c[2]) >= 100_000]
    with httpx.Client(base_url=server.url, timeout=30) as http:

        def flood(rounds: int, deadline: float) -> int:
            sent = 0
            for i in range(rounds):
                for path, method, body, headers, status, _ in small:
                    r = http.request(
                        method,
                        path,
                        content=body,
                        headers={"content-type": "application/json", **headers},
                    )
                    assert r.status_code == status
                    sent += 1
                if i % 20 == 0:
                    for path, method, body, headers, status, _ in heavy:
                        assert (
                            http.request(
                                method,
                                path,
                                content=body,
                                headers={"content-type": "application/json", **headers},
                            ).status_code
                            == status
                        )
                        sent += 1
                if time.monotonic() > deadline:
                    break
            return sent

        flood(40, time.monotonic() + 30)  # warm-up: allocators and caches settle
        before = server.rss_bytes()
        sent = flood(250, time.monotonic() + 90)
        after = server.rss_bytes()
        r = http.post("/v1/endpoints/iris/predict", json=GOOD)
    assert sent >= 2000, sent
    assert r.status_code == 200 and r.json()["predictions"] == [0]
    assert after - before < 25 * 1024 * 1024, (before, after)


def test_the_log_is_readable_while_serving_and_complete_after_sigterm(tmp_path: Path) -> None:
    import signal

    import duckdb

    home = registered_home(tmp_path / "home")
    srv = Server(home, ["iris@champion"])
    ids = []
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            for _ in range(50):
                ids.append(http.post("/v1/endpoints/iris/predict", json=GOOD).json()["request_id"])
            time.sleep(1.5)  # one flush interval
            glob = str(
                home
                / ".keel"
                / "artifacts"
                / "serving"
                / "project=default"
                / "predictions"
                / "**"
                / "*.parquet"
            )
            con = duckdb.connect()
            running = con.execute(
                f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)"
            ).fetchone()
            assert running is not None and running[0] == 50
            for _ in range(30):  # these are still queued when SIGTERM arrives
                ids.append(http.post("/v1/endpoints/iris/predict", json=GOOD).json()["request_id"])
    finally:
        code = srv.stop(signal.SIGTERM)
    # uvicorn shuts down gracefully (lifespan: the log is flushed), then re-raises SIGTERM
    assert code in (0, -signal.SIGTERM), srv.log_path.read_text()[-2000:]
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT request_id, endpoint, model_version FROM read_parquet('{glob}', hive_partitioning=true)"
        )
        .fetchall()
    )
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {(r[1], r[2]) for r in rows} == {("iris", "iris/1")}
