"""``keel endpoints create|update|show|list|delete|log``, run as the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import keel

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def iris_models(register_model: Any, client: Any) -> None:
    from sklearn.ensemble import RandomForestClassifier

    v1 = register_model("iris")
    v2 = register_model("iris", model=RandomForestClassifier(n_estimators=7, random_state=1))
    keel.models.promote(v1.ref, to="champion")
    keel.models.promote(v2.ref, to="challenger")
    client.close()


def test_create_show_update_list_delete(iris_models: None, tmp_path: Path) -> None:
    out = run_cli(
        "endpoints",
        "create",
        "iris",
        "--target",
        "iris@champion=90",
        "--target",
        "iris@challenger=10",
        "--max-wait-ms",
        "5",
        "--reason",
        "launch",
    ).stdout
    assert "created endpoint iris (revision 1): iris@champion (90%), iris@challenger (10%)" in out
    assert "resolves to iris/1, iris/2" in out
    shown = run_cli("endpoints", "show", "iris").stdout
    assert "revision 1" in shown and "(launch)" in shown and "max_wait_ms: 5.0" in shown

    spec = tmp_path / "iris.yaml"
    spec.write_text("name: iris\ntargets:\n  - model: iris/2\nlog_sample_rate: 0.5\n")
    out = run_cli("endpoints", "update", "iris", "-f", str(spec), "--shadow", "iris/1").stdout
    assert "updated endpoint iris (revision 2): iris/2 (100%), shadow iris/1" in out
    out = run_cli("endpoints", "update", "iris", "--log-sample-rate", "0.5").stdout
    assert "endpoint iris is unchanged (revision 2)" in out
    out = run_cli("endpoints", "update", "iris", "--no-shadow", "--revision", "2").stdout
    assert "revision 3" in out

    listed = json.loads(run_cli("endpoints", "list", "--json").stdout)
    assert [(e["name"], e["revision"], e["model_versions"]) for e in listed] == [
        ("iris", 3, ["iris/2"])
    ]
    assert listed[0]["spec"]["shadow"] is None and listed[0]["spec"]["log_sample_rate"] == 0.5

    stale = run_cli(
        "endpoints", "update", "iris", "--max-rows", "5", "--revision", "2", check=False
    )
    assert stale.returncode == 1 and "is at revision 3" in stale.stderr

    assert "deleted endpoint iris" in run_cli("endpoints", "delete", "iris").stdout
    history = run_cli("endpoints", "show", "iris", "--history").stdout
    assert "endpoint iris is deleted" in history
    for action in ("create", "update", "delete"):
        assert action in history
    gone = run_cli("endpoints", "show", "iris", check=False)
    assert gone.returncode == 1 and "'iris' was deleted" in gone.stderr
    assert "Endpoints (0)" in run_cli("endpoints", "list").stdout
    assert run_cli("audit", "verify").returncode == 0


def test_bad_input_is_one_line(iris_models: None, tmp_path: Path) -> None:
    cases = [
        (("endpoints", "create", "--target", "iris@champion"), "give the endpoint a name"),
        (("endpoints", "create", "iris"), "needs at least one target"),
        (("endpoints", "create", "iris", "-t", "iris@champion=lots"), "is not a number"),
        (("endpoints", "create", "iris", "-t", "iris@gone"), "has no alias 'gone'"),
        (("endpoints", "create", "iris", "-t", "iris/1", "--log-sample-rate", "3"), "log_sample"),
        (("endpoints", "update", "nope", "--max-rows", "3"), "does not exist"),
        (("endpoints", "update", "nope"), "nothing to change"),
    ]
    for args, message in cases:
        proc = run_cli(*args, check=False)
        assert proc.returncode == 1, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1, proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: iris\ntargets: [{model: iris/1}]\nbatching: {max_wait: 3}\n")
    proc = run_cli("endpoints", "create", "-f", str(bad), check=False)
    assert "batching.max_wait: unknown key" in proc.stderr


def test_log_shows_the_prediction_log(iris_models: None, client: Any) -> None:
    import asyncio

    import httpx

    import keel.serving

    app = keel.serving.create_app("iris@champion", context=client.context)
    row = {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5}
    row |= {"petal length (cm)": 1.4, "petal width (cm)": 0.2}

    async def main() -> None:
        await app.startup()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://keel") as http:
            for i in range(3):
                headers = {"x-request-id": f"req-{i}"}
                r = await http.post(
                    "/v1/endpoints/iris/predict", json={"inputs": [row]}, headers=headers
                )
                assert r.status_code == 200
        await app.shutdown()

    asyncio.run(main())
    out = run_cli("endpoints", "log", "iris", "--since", "1h", "-n", "2").stdout
    assert "the last 2 of 3 logged request(s)" in out and "req-2" in out and "req-0" not in out
    lines = run_cli("endpoints", "log", "iris", "--json").stdout.splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    assert "no predictions logged for endpoint adult" in run_cli("endpoints", "log", "adult").stdout
