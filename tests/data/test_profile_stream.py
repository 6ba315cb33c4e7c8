"""The profile's first pass over the stream being written equals the pass over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

import keel
import keel.data._profile as profile_module
from keel.data._duckdb import connect_duckdb
from keel.data._ingest import open_source
from keel.data._profile import profile_parquet, schema_of
from keel.data._profile_stream import StreamProfile


def _csv(path: Path, rows: int, late: str | None = None) -> Path:
    with path.open("w") as f:
        f.write("id,amount,color,note,flag,day\n")
        for i in range(rows):
            flag = late if late is not None and i == rows - 1 else ("true", "false")[i % 2]
            amount = "" if i % 17 == 0 else f"{(i * 7919) % 1000 / 8}"
            f.write(f"{i},{amount},{('red', 'green', 'blue')[i % 3]},note {i % 5000},{flag},")
            f.write(f"2024-01-{1 + i % 28:02d}\n")
    return path


def _profiles(csv: Path, tmp: Path) -> tuple[dict, dict, str]:
    dest = tmp / "out.parquet"
    con = connect_duckdb(tmp)
    try:
        with open_source(csv, tmp) as opened, StreamProfile(con) as first:
            result = opened.write(dest, observer=first)
            streamed = profile_parquet(con, dest, schema_of(dest), first.finish())
        from_file = profile_parquet(con, dest, schema_of(dest))
    finally:
        con.close()
    return streamed, from_file, result.engine


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)  # sums in another order
    return a == b


@pytest.mark.parametrize("approximate", [False, True])
def test_streamed_first_pass_gives_the_file_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approximate: bool
) -> None:
    if approximate:  # the approximate path without a million-row file
        monkeypatch.setattr(profile_module, "EXACT_ROWS", 1000)
        monkeypatch.setattr(profile_module, "QUANTILE_SAMPLE_ROWS", 20_000)
    streamed, from_file, engine = _profiles(_csv(tmp_path / "d.csv", 60_000), tmp_path)
    assert engine == "pyarrow"
    assert streamed["approximate"] is approximate
    assert _same(streamed, from_file)
    amount = streamed["columns"]["amount"]
    assert amount["nulls"] == len(range(0, 60_000, 17))
    assert sum(amount["histogram"]["counts"]) == 60_000 - amount["nulls"]
    assert streamed["columns"]["flag"]["true"] == 30_000


def test_approximate_quantiles_are_the_same_on_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_module, "EXACT_ROWS", 1000)
    monkeypatch.setattr(profile_module, "QUANTILE_SAMPLE_ROWS", 20_000)
    csv = _csv(tmp_path / "d.csv", 200_000)
    runs = [_profiles(csv, tmp_path)[1]["columns"]["id"]["quantiles"] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_stream_restarts_when_the_ingest_falls_back_to_duckdb(client, tmp_path: Path) -> None:
    # 't' on the last line: DuckDB reads it as true, pyarrow refuses it after writing
    # every earlier batch, so the ingest and the streamed profile start again
    csv = _csv(tmp_path / "late.csv", 60_000, late="t")
    streamed, from_file, engine = _profiles(csv, tmp_path)
    assert engine == "duckdb"
    assert _same(streamed, from_file)
    v = keel.datasets.register(csv, "late")
    assert v.num_rows == 60_000 and v.profile["columns"]["flag"]["true"] == 30_001


def test_histograms_leave_out_nulls_and_non_finite_values(client, tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("x,y\n1,1.5\n,2.5\n3,nan\n,inf\n5,4.5\n")
    columns = keel.datasets.register(path, "gaps").profile["columns"]
    assert sum(columns["x"]["histogram"]["counts"]) == 3  # two nulls
    assert sum(columns["y"]["histogram"]["counts"]) == 3  # nan and inf
    assert columns["x"]["histogram"]["counts"][-1] == 1  # only the 5
