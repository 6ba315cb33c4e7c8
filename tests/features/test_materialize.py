"""``keel.features.materialize``: the latest values per entity into the online store, on
SQLite and on the machine's Redis; incremental, idempotent, and safe to kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keel.features as kf
from keel.config import Settings
from keel.context import Context, current_context, use_context
from keel.errors import InvalidArgumentError
from keel.features import (
    Entity,
    FeatureNotFoundError,
    FeatureSourceError,
    FeatureView,
    OnlineSchemaMismatchError,
    OnlineStoreUnavailableError,
)

DRIVER = Entity(name="driver", join_keys={"driver_id": "int64"})
T = pd.Timestamp("2026-03-01", tz="UTC")


def _view(folder: Path, **changes: Any) -> FeatureView:
    data: dict[str, Any] = {
        "name": "stats",
        "entities": ["driver"],
        "timestamp": "ts",
        "ttl": None,
        "source": {"parquet": str(folder / "*.parquet")},
        "features": {"trips": "int64", "rating": "float64", "city": "string"},
    }
    data.update(changes)
    return FeatureView(**data)


def _write(folder: Path, name: str, rows: list[tuple[Any, ...]]) -> None:
    frame = pd.DataFrame(rows, columns=["driver_id", "ts", "trips", "rating", "city"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["trips"] = frame["trips"].astype("Int64")
    frame.to_parquet(folder / f"{name}.parquet", index=False)


@pytest.fixture(params=["sqlite", "redis"])
def online_uri(request: pytest.FixtureRequest, keel_home: Path) -> str:
    if request.param == "redis":
        uri: str = request.getfixturevalue("redis_online_uri")
    else:
        uri = f"sqlite:///{keel_home / 'online.db'}"
    return uri


@pytest.fixture
def ctx(online_uri: str, keel_home: Path) -> Iterator[Context]:
    with (
        Context(Settings(home=keel_home, online_store=online_uri)) as context,
        use_context(context),
    ):
        yield context


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    _write(
        folder,
        "part-0",
        [
            (1, T, 10, 4.5, "oslo"),
            (1, T + pd.Timedelta(days=2), 11, 4.6, "bergen"),  # the latest of driver 1
            (2, T + pd.Timedelta(days=1), 20, None, None),
            (3, T - pd.Timedelta(days=5), 30, 3.0, "rome"),
        ],
    )
    return folder


def _online(ctx: Context, drivers: list[Any], features: list[str] | None = None) -> Any:
    refs = features or ["stats:trips", "stats:rating", "stats:city"]
    return kf.get_online_features(
        [{"driver_id": d} for d in drivers], refs, at=T + pd.Timedelta(days=10)
    )


def test_latest_values_per_entity_with_ages_and_nulls(ctx: Context, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    report = kf.materialize()
    (done,) = report.views
    assert (done.view, done.rows, done.written, done.full) == ("stats", 3, 3, True)
    assert done.watermark == (T + pd.Timedelta(days=2)).to_pydatetime()
    assert done.lag_seconds == 0.0
    out = _online(ctx, [1, 2, 3, 99])
    assert out.values == {
        "trips": [11, 20, 30, None],
        "rating": [4.6, None, 3.0, None],
        "city": ["bergen", None, "rome", None],
    }
    assert out.ages["trips"] == [8 * 86400.0, 9 * 86400.0, 15 * 86400.0, None]
    assert out.missing == 1 and out.expired == 0
    assert out.to_dict()["driver_id"] == [1, 2, 3, 99]


def test_a_rerun_reads_only_new_rows(ctx: Context, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    kf.materialize("stats")
    _write(source, "part-1", [(2, T + pd.Timedelta(days=3), 21, 2.0, "nice")])
    (done,) = kf.materialize("stats").views
    assert (done.rows, done.written, done.full) == (1, 1, False)
    assert done.watermark_before == (T + pd.Timedelta(days=2)).to_pydatetime()
    assert _online(ctx, [1, 2]).values["trips"] == [11, 21]
    (again,) = kf.materialize("stats").views
    assert (again.rows, again.written) == (0, 0)
    assert again.watermark == done.watermark


def test_end_bounds_the_window_and_a_later_run_catches_up(ctx: Context, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    (first,) = kf.materialize(end="2026-03-01T12:00:00").views
    assert first.rows == 2  # driver 1's first value and driver 3's
    assert first.lag_seconds == pytest.approx(2 * 86400 - 0)  # the source goes 2 days further
    assert first.watermark == T.to_pydatetime()
    assert _online(ctx, [1, 2]).values["trips"] == [10, None]
    (second,) = kf.materialize().views
    assert second.rows == 2 and _online(ctx, [1, 2]).values["trips"] == [11, 20]


def test_an_older_window_never_overwrites_newer_values(ctx: Context, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    kf.materialize()
    # a row older than what is online arrives late (no created_at: it is below the watermark)
    _write(source, "part-1", [(1, T + pd.Timedelta(days=1), 99, 0.0, "late")])
    kf.materialize()
    assert _online(ctx, [1]).values["trips"] == [11]


def test_created_at_picks_up_late_corrections(ctx: Context, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()

    def write(name: str, rows: list[tuple[Any, ...]]) -> None:
        frame = pd.DataFrame(rows, columns=["driver_id", "ts", "created", "trips"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["created"] = pd.to_datetime(frame["created"], utc=True)
        frame.to_parquet(folder / f"{name}.parquet", index=False)

    write("a", [(1, T, T, 1), (2, T, T, 2)])
    view = FeatureView(
        name="stats",
        entities=["driver"],
        timestamp="ts",
        created_at="created",
        source={"parquet": str(folder / "*.parquet")},
        features={"trips": "int64"},
    )
    kf.apply([DRIVER, view])
    kf.materialize()
    # a correction of driver 1's value at the same event time, known a day later
    write("b", [(1, T, T + pd.Timedelta(days=1), 100)])
    (done,) = kf.materialize().views
    assert done.rows == 1
    out = kf.get_online_features([{"driver_id": 1}, {"driver_id": 2}], ["stats:trips"])
    assert out.values["trips"] == [100, 2]


def test_ties_resolve_as_documented(ctx: Context, tmp_path: Path) -> None:
    folder = tmp_path / "ties"
    folder.mkdir()
    _write(folder, "a", [(1, T, 5, 1.0, "x"), (1, T, 7, 0.5, "y"), (1, T, 6, 9.0, "z")])
    _write(folder, "b", [(2, T, 1, 1.0, "x")])
    _write(folder, "c", [(2, T, 3, 1.0, "x"), (2, T, 2, 1.0, "x")])
    kf.apply([DRIVER, _view(folder)])
    kf.materialize()
    # same time: the row that comes last in the source wins (a glob's files in name
    # order), as in the offline join
    assert _online(ctx, [1, 2]).values["trips"] == [6, 2]
    events = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T, T]})
    offline = kf.get_historical_features(events, ["stats:trips"]).to_pandas()
    assert offline["trips"].tolist() == [6, 2]


def test_a_changed_view_is_refused_online_until_rematerialized(ctx: Context, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    kf.materialize()
    lookup = kf.prepare_online_features(["stats:*"])  # prepared before the change
    changed = _view(source, features={"trips": "int64", "rating": "float64"})
    kf.apply([DRIVER, changed])
    with pytest.raises(OnlineSchemaMismatchError, match="keel features materialize --view stats"):
        _online(ctx, [1], ["stats:trips"])  # the new layout meets the old records
    (done,) = kf.materialize().views
    assert done.full and done.rows == 3 and done.watermark_before is None
    assert _online(ctx, [1, 2], ["stats:trips", "stats:rating"]).values == {
        "trips": [11, 20],
        "rating": [4.6, None],
    }
    with pytest.raises(OnlineSchemaMismatchError):
        lookup.get([{"driver_id": 1}])  # the old layout meets the new records
    lookup.refresh()
    assert lookup.features == ("trips", "rating")
    assert lookup.get([{"driver_id": 1}]).values == {"trips": [11], "rating": [4.6]}
    lookup.close()


def test_every_type_round_trips(ctx: Context, tmp_path: Path) -> None:
    folder = tmp_path / "types"
    folder.mkdir()
    frame = pd.DataFrame(
        {
            "name": ["ana", "bo"],
            "ts": ["2026-03-01T00:00:00+01:00", "2026-03-02T00:00:00Z"],
            "i32": pd.array([7, None], dtype="Int32"),
            "f32": [0.5, 1.5],
            "flag": [True, False],
            "seen": pd.to_datetime(["2026-01-01 10:00", "2026-02-01 11:00"]),
            "note": ["é", ""],
        }
    )
    frame.to_parquet(folder / "a.parquet", index=False)
    user = Entity(name="user", join_keys={"name": "string"})
    view = FeatureView(
        name="profile",
        entities=["user"],
        timestamp="ts",
        source={"parquet": str(folder / "a.parquet")},
        features={
            "i32": "int32",
            "f32": "float32",
            "flag": "bool",
            "seen": "timestamp",
            "note": "string",
        },
    )
    kf.apply([user, view])
    kf.materialize()
    out = kf.get_online_features({"name": ["ana", "bo"]}, ["profile:*"])
    assert out.values == {
        "i32": [7, None],
        "f32": [0.5, 1.5],
        "flag": [True, False],
        "seen": [datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 2, 1, 11, tzinfo=UTC)],
        "note": ["é", ""],
    }


def test_bad_input_is_named_and_writes_nothing(ctx: Context, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    with pytest.raises(FeatureNotFoundError, match="nope"):
        kf.materialize(["nope"])
    with pytest.raises(InvalidArgumentError, match="end 'yesterday' is not a time"):
        kf.materialize(end="yesterday")
    _write(source, "part-1", [(5, T, 1, 1.0, "x")])
    (source / "part-1.parquet").write_bytes(b"not parquet")
    with pytest.raises(FeatureSourceError):
        kf.materialize()
    online = kf.open_online_store(ctx.settings.online_store or "")
    assert online.watermark(ctx.project, "stats") is None
    online.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_redis_down_names_the_url_and_moves_no_watermark(
    keel_home: Path, source: Path, redis_online_uri: str
) -> None:
    up = Context(Settings(home=keel_home, online_store=redis_online_uri))
    with use_context(up):
        kf.apply([DRIVER, _view(source)])
        kf.materialize()
        before = kf.open_online_store(redis_online_uri).watermark(up.project, "stats")
    down_uri = f"redis://:pw@127.0.0.1:{_free_port()}/14"
    with Context(Settings(home=keel_home, online_store=down_uri)) as down, use_context(down):
        _write(source, "part-1", [(2, T + pd.Timedelta(days=9), 1, 1.0, "x")])
        with pytest.raises(OnlineStoreUnavailableError) as info:
            kf.materialize()
        assert f"redis://:***@127.0.0.1:{down_uri.split(':')[-1]}" in str(info.value)
        with pytest.raises(OnlineStoreUnavailableError, match="127.0.0.1"):
            kf.get_online_features([{"driver_id": 1}], ["stats:trips"])
    store = kf.open_online_store(redis_online_uri)
    assert store.watermark(up.project, "stats") == before
    store.close()
    up.close()


# -- killed half-way ------------------------------------------------------------------------

KILLED = """
import sys
import keel.features as kf
kf.materialize()
print("finished", flush=True)
"""


def _big_source(folder: Path, drivers: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "driver_id": np.arange(drivers, dtype=np.int64),
            "ts": T + pd.to_timedelta(rng.integers(0, 86400, drivers), unit="s"),
            "trips": rng.integers(0, 100, drivers),
            "rating": rng.random(drivers),
            "city": ["c"] * drivers,
        }
    )
    frame.to_parquet(folder / "big.parquet", index=False)


def _materialize_process(keel_home: Path, online_uri: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KEEL_HOME": str(keel_home), "KEEL_ONLINE_STORE": online_uri}
    return subprocess.Popen(
        [sys.executable, "-c", KILLED], env=env, stdout=subprocess.DEVNULL, text=True
    )


@pytest.mark.slow
def test_killed_mid_materialize_then_rerun_is_correct(
    keel_home: Path, tmp_path: Path, online_uri: str
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    drivers = 300_000
    _big_source(folder, drivers)
    with (
        Context(Settings(home=keel_home, online_store=online_uri)) as context,
        use_context(context),
    ):
        kf.apply([DRIVER, _view(folder)])
        store = kf.open_online_store(online_uri)
        proc = _materialize_process(keel_home, online_uri)
        try:
            deadline = time.monotonic() + 120
            # wait until records are being written, then kill the process
            while time.monotonic() < deadline and proc.poll() is None:
                if _writing(store, context, keel_home, online_uri):
                    break
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "materialize finished before it was killed"
        assert store.watermark(context.project, "stats") is None  # never half-moved
        stored = store.count(context.project, "stats")
        assert stored < drivers
        if online_uri.startswith("sqlite"):
            assert stored == 0  # one transaction: the killed run left nothing
        (done,) = kf.materialize().views
        assert done.rows == drivers and store.count(context.project, "stats") == drivers
        truth = pd.read_parquet(folder / "big.parquet").set_index("driver_id")
        sample = [0, 1, 12_345, drivers - 1]
        out = kf.get_online_features([{"driver_id": d} for d in sample], ["stats:trips"])
        assert out.values["trips"] == [int(truth.loc[d, "trips"]) for d in sample]
        store.close()


def _writing(store: Any, context: Context, keel_home: Path, online_uri: str) -> bool:
    """Whether the killed process has started writing records (and not finished)."""
    if online_uri.startswith("redis"):
        return bool(store.count(context.project, "stats"))
    wal = keel_home / "online.db-wal"
    return wal.exists() and wal.stat().st_size > 4_000_000


def test_current_context_is_used_by_default(keel_home: Path, source: Path) -> None:
    kf.apply([DRIVER, _view(source)])
    report = kf.materialize()
    assert report.online_store == f"sqlite:///{keel_home.absolute() / 'online.db'}"
    assert current_context().settings.online_store is None


@pytest.mark.parametrize("created_at", [False, True])
def test_online_equals_offline_at_the_materialization_time(
    ctx: Context, tmp_path: Path, created_at: bool
) -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    folder = tmp_path / "random"
    folder.mkdir()
    n = 3000
    for part in range(3):
        ts = T + pd.to_timedelta(rng.integers(0, 40, n), unit="h")  # many ties
        frame = pd.DataFrame(
            {
                "driver_id": rng.integers(0, 300, n),
                "ts": ts,
                "created": ts + pd.to_timedelta(rng.integers(0, 30, n), unit="h"),
                "trips": rng.integers(0, 5, n),
                "rating": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            }
        )
        frame.to_parquet(folder / f"part-{part}.parquet", index=False)
    view = FeatureView(
        name="rand",
        entities=["driver"],
        timestamp="ts",
        created_at="created" if created_at else None,
        ttl="20h",
        source={"parquet": str(folder / "*.parquet")},
        features={"trips": "int64", "rating": "float64"},
    )
    kf.apply([DRIVER, view])
    refs = ["rand:trips", "rand:rating"]
    for hours in (20, 35, 80):  # materialize step by step, comparing at each end
        at = T + pd.Timedelta(hours=hours)
        kf.materialize(end=at.to_pydatetime())
        drivers = list(range(310))
        events = pd.DataFrame({"driver_id": drivers, "event_timestamp": [at] * len(drivers)})
        offline = kf.get_historical_features(events, refs).to_pandas()
        online = kf.get_online_features({"driver_id": drivers}, refs, at=at.to_pydatetime())
        for name in ("trips", "rating"):
            expected = [None if pd.isna(v) else v for v in offline[name].tolist()]
            got = [None if v is None or v != v else v for v in online.values[name]]
            assert got == expected, (hours, name)
