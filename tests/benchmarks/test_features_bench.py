"""benchmarks/features.py measures what it says, at a tiny size: keel's training data has
every event and the floor's values, and the online workers answer the driver's protocol.
Nothing is timed; Feast (its own virtualenv) is not run here."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "features.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keel_features_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data(bench: ModuleType, tmp_path: Path) -> Path:
    bench.generate(tmp_path, feature_rows=4000, entities=200, events=[500])
    return tmp_path


def test_keel_and_the_floor_agree_and_drop_nothing(bench: ModuleType, data: Path) -> None:
    keel = bench.worker_keel_offline(data, 500)
    floor = bench.worker_floor(data, 500, presorted=True)
    sorting = bench.worker_floor(data, 500, presorted=False)
    assert keel["rows"] == floor["rows"] == sorting["rows"] == 500
    assert bench._agrees(keel, floor) and bench._agrees(sorting, floor)
    # some events have no value (before a driver's first row, beyond a TTL, unknown driver)
    assert 0 < keel["b0"][0] < keel["a0"][0] < 500
    floor["a0"] = [floor["a0"][0] - 1, floor["a0"][1]]
    assert not bench._agrees(keel, floor)  # the comparison can fail


def test_the_online_round_answers_lookups(bench: ModuleType, data: Path, tmp_path: Path) -> None:
    args = argparse.Namespace(entities=200, lookups=40)
    out = bench.online_round("sqlite", None, data, args)
    result = out["online/keel/sqlite"]
    assert result["materialized"] == 400  # 200 drivers x 2 views
    assert result["prepared_1"]["n"] == 40 and result["prepared_1"]["nulls"] == 0
    assert result["prepared_100"]["n"] == 20 and result["unprepared_1"]["n"] == 20
    assert result["store_1"]["n"] == 40 and result["store_1"]["nulls"] == 0
    assert result["prepared_1"]["p50_ms"] > 0 and result["rss_mb"] > 0
    assert sys.executable  # the worker ran with this interpreter and the tree's src/
