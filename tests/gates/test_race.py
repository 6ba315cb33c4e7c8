"""Two real processes promote different versions to one alias at once: one wins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import keel
from keel.config import Settings
from keel.tracking import Client

WORKER = Path(__file__).with_name("race_worker.py")


def _register(c: Client, X: Any, y: Any, n: int) -> None:
    from sklearn.tree import DecisionTreeClassifier

    for _ in range(n):
        run = c.create_run("race")
        c.log_batch(run.id, params={"depth": 2})
        c.store.tracking.log_batch(run.id, [keel.store.Metric("f1_macro", 0.9, 0, 0)])
        keel.log_model(
            DecisionTreeClassifier(max_depth=2).fit(X, y),
            name="iris",
            onnx=False,
            run_id=run.id,
            context=c.context,
        )
        c.end_run(run.id)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_processes_race_on_one_alias(
    backend: str, request: pytest.FixtureRequest, keel_home: Path, tmp_path: Path, iris_xy: Any
) -> None:
    uri = (
        f"sqlite:///{tmp_path / 'race.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_schema_uri")
    )
    c = Client(uri, settings=Settings(home=keel_home))
    X, y = iris_xy
    _register(c, X, y, 3)
    keel.models.promote("iris", 1, to="champion", policy=None, context=c.context)
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), uri, str(keel_home), str(v), str(ready), str(v)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in (2, 3)
    ]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    winners = [i for i, out in enumerate(outputs) if out == "WON"]
    losers = [out for out in outputs if out.startswith("CONFLICT")]
    assert len(winners) == 1 and len(losers) == 1, outputs
    assert "changed while this change was being prepared" in losers[0]
    assert "Re-run the command" in losers[0]
    winner_version = (2, 3)[winners[0]]
    assert c.store.registry.get_alias("iris", "champion").version == winner_version
    moves = c.store.registry.alias_history("iris", "champion")
    assert [(m.from_version, m.to_version) for m in moves] == [(None, 1), (1, winner_version)]
    assert c.store.governance.verify().ok
    c.close()
