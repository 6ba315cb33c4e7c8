"""Freshness gauges: read from the watermarks when scraped, on SQLite and Redis."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import keel.features as kf
from keel.context import current_context
from keel.features import Entity, FeatureView
from keel.features._freshness import FreshnessCollector

T = pd.Timestamp("2026-03-01", tz="UTC")


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, sample.labels.get("view", ""))] = sample.value
    return out


def test_gauges_follow_the_watermark(tmp_path: Path) -> None:
    pd.DataFrame(
        {"driver_id": [1, 2], "ts": [T, T + pd.Timedelta(hours=5)], "trips": [1, 2]}
    ).to_parquet(tmp_path / "a.parquet")
    view = FeatureView(
        name="stats",
        entities=["driver"],
        timestamp="ts",
        source={"parquet": str(tmp_path / "a.parquet")},
        features={"trips": "int64"},
    )
    kf.apply([Entity(name="driver", join_keys={"driver_id": "int64"}), view])
    kf.materialize(end=T + pd.Timedelta(hours=1))
    ctx = current_context()
    store = kf.open_online_store(f"sqlite:///{ctx.settings.home.absolute() / 'online.db'}")
    now = (T + pd.Timedelta(hours=3)).timestamp()
    registry = CollectorRegistry()
    registry.register(
        FreshnessCollector(store, ctx.project, ["stats", "unmaterialized"], lambda: now)
    )
    samples = _samples(registry)
    assert samples[("keel_feature_freshness_seconds", "stats")] == 3 * 3600
    assert samples[("keel_feature_source_lag_seconds", "stats")] == 5 * 3600
    assert ("keel_feature_freshness_seconds", "unmaterialized") not in samples
    assert samples[("keel_feature_online_store_up", "")] == 1.0
    kf.materialize()
    samples = _samples(registry)
    assert samples[("keel_feature_source_lag_seconds", "stats")] == 0.0
    assert samples[("keel_feature_freshness_seconds", "stats")] == 0.0  # clamped: newer than "now"
    store.close()


def test_an_unreachable_store_reports_down_without_failing_the_scrape() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = kf.open_online_store(f"redis://127.0.0.1:{port}/0")
    registry = CollectorRegistry()
    kf.register_freshness_metrics(registry, store, "default", ["stats"])
    samples = _samples(registry)
    assert samples[("keel_feature_online_store_up", "")] == 0.0
    assert ("keel_feature_freshness_seconds", "stats") not in samples
