"""Every Python example of docs/guides/features-online.md runs, on the data it describes."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import keel.features as kf

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "features-online.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)


@pytest.fixture
def guide_views(tmp_path: Path) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("s")
    pd.DataFrame(
        {
            "driver_id": [1001, 1002],
            "ts": [now - pd.Timedelta(seconds=35), now - pd.Timedelta(seconds=4120)],
            "trips_today": [12, 3],
            "rating": [4.8, 4.6],
        }
    ).to_parquet(tmp_path / "stats.parquet")
    pd.DataFrame(
        {"driver_id": [1001], "ts": [now - pd.Timedelta(days=3)], "city": ["Oslo"]}
    ).to_parquet(tmp_path / "profile.parquet")
    kf.apply(
        [
            kf.Entity(name="driver", join_keys={"driver_id": "int64"}),
            kf.FeatureView(
                name="driver_stats",
                entities=["driver"],
                timestamp="ts",
                ttl="1d",
                source={"parquet": str(tmp_path / "stats.parquet")},
                features={"trips_today": "int64", "rating": "float64"},
            ),
            kf.FeatureView(
                name="driver_profile",
                entities=["driver"],
                timestamp="ts",
                source={"parquet": str(tmp_path / "profile.parquet")},
                features={"city": "string"},
            ),
            kf.FeatureService(
                name="driver_model", features=["driver_stats:*", "driver_profile:city"]
            ),
        ]
    )
    kf.materialize(["driver_profile"])


def test_the_python_examples_run_in_order(
    guide_views: None, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, object] = {
        "__name__": "guide",
        "requests": [{"entities": [{"driver_id": 1001}]}, {"entities": [{"driver_id": "1002"}]}],
    }
    for code in blocks("python"):
        exec(compile(code, str(GUIDE), "exec"), namespace)
    out = namespace["out"]
    assert isinstance(out, kf.OnlineFeatures)
    assert out.values["rating"] == [4.8, 4.6, None]
    assert out.values["city"] == ["Oslo", None, None]
    assert out.missing == 3
    ages = out.ages["rating"]
    assert ages[2] is None and 35 <= (ages[0] or 0) < 300 and 4120 <= (ages[1] or 0) < 4400
    printed = capsys.readouterr().out
    assert "keel_feature_freshness_seconds" in printed
    assert 'view="driver_stats"' in printed
