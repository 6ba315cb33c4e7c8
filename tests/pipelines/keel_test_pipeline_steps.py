"""Module-level steps and pipelines for the tests (worker processes import them by name)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

import keel
from keel.datasets import DatasetVersion
from keel.pipelines import SourceFile

# -- a small DAG of plain values ------------------------------------------------------


@keel.step
def numbers(n: int = 5) -> list[int]:
    print(f"making {n} numbers")
    print("a warning on stderr", file=sys.stderr)
    logging.getLogger("keel_test").info("logged through logging")
    return list(range(n))


@keel.step
def total(numbers: list[int]) -> int:
    return sum(numbers)


@keel.step
def squares(numbers: list[int], power: int = 2) -> np.ndarray:
    return np.array(numbers) ** power


@keel.step(outputs=("evens", "odds"))
def parity(numbers: list[int]) -> tuple[list[int], list[int]]:
    return [x for x in numbers if x % 2 == 0], [x for x in numbers if x % 2]


@keel.step(inputs={"values": "parity.evens"})
def report(values: list[int], total: int, squares: np.ndarray) -> dict[str, object]:
    return {"evens": values, "total": total, "sum_of_squares": int(squares.sum())}


arith = keel.Pipeline("arith", [report, parity, squares, total, numbers])

# -- failure and independent branches -------------------------------------------------


@keel.step
def source() -> list[int]:
    return [1, 2, 3]


@keel.step
def broken(source: list[int], fail: bool = True) -> list[int]:
    if fail:
        raise ValueError("broken on purpose")
    return source


@keel.step
def after_broken(broken: list[int]) -> int:
    return len(broken)


@keel.step
def independent(source: list[int]) -> int:
    return len(source)


failing = keel.Pipeline("failing", [source, broken, after_broken, independent])

# -- retries ----------------------------------------------------------------------------


def _count(counter: str) -> int:
    path = Path(counter)
    n = int(path.read_text()) if path.exists() else 0
    path.write_text(str(n + 1))
    return n


@keel.step(retries=2, cache=False)
def flaky(counter: str, fail_times: int = 2) -> str:
    n = _count(counter)
    if n < fail_times:
        raise RuntimeError(f"flaky attempt {n + 1} failed")
    return "ok"


flaky_pipeline = keel.Pipeline("flaky", [flaky])

# -- parallel branches: each waits for the other to have started -----------------------


def _rendezvous(folder: str, me: str, other: str) -> str:
    Path(folder, me).touch()
    deadline = time.monotonic() + 60
    while not Path(folder, other).exists():
        if time.monotonic() > deadline:
            return "alone"
        time.sleep(0.01)
    return "together"


@keel.step
def start(folder: str) -> str:
    return folder


@keel.step
def left(start: str) -> str:
    return _rendezvous(start, "left", "right")


@keel.step
def right(start: str) -> str:
    return _rendezvous(start, "right", "left")


@keel.step
def join(left: str, right: str) -> list[str]:
    return [left, right]


parallel = keel.Pipeline("parallel", [start, left, right, join])

# -- storage formats --------------------------------------------------------------------


@keel.step
def makes_set() -> set[int]:
    return {1, 2, 3}


unsafe = keel.Pipeline("unsafe", [makes_set])


@keel.step(name="makes_set", allow_pickle=True)
def makes_set_pickled() -> set[int]:
    return {1, 2, 3}


@keel.step
def uses_set(makes_set: set[int]) -> int:
    return len(makes_set)


pickled = keel.Pipeline("pickled", [makes_set_pickled, uses_set])

# -- source files -------------------------------------------------------------------------


@keel.step
def read_text(path: SourceFile) -> str:
    return path.read_text()


@keel.step
def shout(read_text: str) -> str:
    return read_text.upper()


files = keel.Pipeline("files", [read_text, shout])

# -- tables -------------------------------------------------------------------------------


@keel.step
def frame(rows: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(rows)), "label": ["a", "b"] * (rows // 2)})


@keel.step
def as_polars(frame: pl.DataFrame) -> pl.DataFrame:
    assert isinstance(frame, pl.DataFrame)
    return frame.filter(pl.col("x") > 1)


@keel.step
def as_arrow(as_polars: pa.Table) -> pa.Table:
    assert isinstance(as_polars, pa.Table)
    return as_polars.select(["x"])


@keel.step
def as_version(frame: DatasetVersion) -> DatasetVersion:
    assert isinstance(frame, DatasetVersion)
    return frame


@keel.step
def as_default(as_polars, as_version) -> dict[str, str]:  # type: ignore[no-untyped-def]
    # unannotated: a table comes back as the type its step returned
    return {
        "as_polars": type(as_polars).__module__.split(".")[0],
        "as_version": type(as_version).__name__,
    }


tables = keel.Pipeline("tables", [frame, as_polars, as_arrow, as_version, as_default])
