"""The prediction log of an endpoint, one row per predicted row, cut into tumbling windows.

The serving app logs one record per request (its inputs, outputs and probabilities as
JSON, see ``keel.serving._predlog``); here each request becomes its rows, in the order
(time, request id, row), and the rows are cut into windows:

- by time (``every: 5m``): window k holds the rows logged in ``[k*size, (k+1)*size)``
  ms since the epoch; it is complete once ``grace`` has passed after its end (the log
  is written about every second). A window without rows is still a window (its results
  say ``empty``).
- by rows (``rows: 500``): window k holds rows ``[k*n, (k+1)*n)`` of the whole log,
  numbered in time order; it is complete once it is full. Rows younger than ``grace``
  are not numbered yet, so a record written late by another worker cannot shift them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from keel.context import Context

__all__ = ["LoggedRows", "Window", "read_rows", "row_windows", "time_windows", "window_id"]

#: the most windows one run computes (a long gap is caught up over several runs)
MAX_WINDOWS_PER_RUN = 5000


def window_id(kind: str, start: int, end: int) -> str:
    """``time:START-END`` or ``rows:START-END`` (end excluded)."""
    return f"{kind}:{start}-{end}"


@dataclass(frozen=True)
class LoggedRows:
    """Logged rows: ``meta`` (request_id, time_ms, model_version, prediction, proba,
    row) and ``inputs`` (one column per input), aligned by position."""

    meta: pd.DataFrame
    inputs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.meta)

    def take(self, start: int, stop: int) -> LoggedRows:
        return LoggedRows(
            self.meta.iloc[start:stop].reset_index(drop=True),
            self.inputs.iloc[start:stop].reset_index(drop=True),
        )


@dataclass(frozen=True)
class Window:
    """One window: its id, bounds and rows.

    Attributes:
        id: :func:`window_id`.
        kind: ``time`` or ``rows``.
        start: first ms (or row number).
        end: end, excluded.
        rows: the window's logged rows.
        closed_at: the time (ms) after which no row can join it: its end for a time
            window, its last row's time for a row window.
    """

    id: str
    kind: str
    start: int
    end: int
    rows: LoggedRows
    closed_at: int


def read_rows(context: Context, endpoint: str, since_ms: int | None, until_ms: int) -> LoggedRows:
    """The rows the endpoint logged in ``[since_ms, until_ms)``, in (time, request, row) order."""
    import orjson
    import pandas as pd

    from keel.serving import read_prediction_log

    log = read_prediction_log(endpoint, since=since_ms, context=context)
    meta: dict[str, list[Any]] = {
        "request_id": [],
        "time_ms": [],
        "model_version": [],
        "prediction": [],
        "proba": [],
        "row": [],
    }
    # inputs column by column: a million rows never live as a million dicts at once
    columns: dict[str, list[Any]] = {}
    count = 0
    if len(log):
        stamps = pd.to_datetime(log["time"], utc=True).dt.tz_convert(None)
        times = stamps.to_numpy(dtype="datetime64[ms]").astype("int64").tolist()
        has_proba = "probabilities" in log.columns
        for i, r in enumerate(log.itertuples(index=False)):
            t = int(times[i])
            if t >= until_ms:
                continue
            rows = orjson.loads(r.inputs)
            outputs = orjson.loads(r.outputs)
            proba = orjson.loads(r.probabilities) if has_proba and r.probabilities else None
            n = len(rows)
            if not isinstance(outputs, list) or len(outputs) != n:
                outputs = [None] * n
            if not isinstance(proba, list) or len(proba) != n:
                proba = [None] * n
            meta["request_id"].extend([r.request_id] * n)
            meta["time_ms"].extend([t] * n)
            meta["model_version"].extend([r.model_version] * n)
            meta["prediction"].extend(outputs)
            meta["proba"].extend(proba)
            meta["row"].extend(range(n))
            rows = [row if isinstance(row, dict) else {} for row in rows]
            for row in rows:
                if row.keys() - columns.keys():
                    for name in row:
                        columns.setdefault(name, [None] * count)
            for name, column in columns.items():
                column.extend([row.get(name) for row in rows])
            count += n
        del log
    frame = pd.DataFrame(meta)
    inputs = pd.DataFrame(columns) if count else pd.DataFrame()
    order = frame.sort_values(["time_ms", "request_id", "row"], kind="stable").index
    return LoggedRows(
        frame.loc[order].reset_index(drop=True),
        inputs.loc[order].reset_index(drop=True) if len(inputs) else inputs,
    )


def time_windows(rows: LoggedRows, size: int, first: int | None, until_ms: int) -> Iterator[Window]:
    """Complete time windows from the one holding ``first`` (ms) up to ``until_ms``.

    ``first`` ``None``: from the window of the first row (nothing when there are none).
    """
    times = rows.meta["time_ms"].to_numpy() if len(rows) else None
    if first is None:
        if times is None or not len(times):
            return
        first = int(times[0])
    k = first // size
    count = 0
    while (k + 1) * size <= until_ms and count < MAX_WINDOWS_PER_RUN:
        start, end = k * size, (k + 1) * size
        if times is not None:
            import numpy as np

            lo, hi = np.searchsorted(times, [start, end], side="left")
            part = rows.take(int(lo), int(hi))
        else:
            part = rows.take(0, 0)
        yield Window(window_id("time", start, end), "time", start, end, part, end)
        k += 1
        count += 1


def row_offset(
    context: Context, endpoint: str, since_ms: int | None, until_ms: int, first_row: int
) -> tuple[int | None, int]:
    """Where to start reading for row ``first_row``: (a time, the row number it starts at).

    Only the ``time`` and ``rows`` columns of the log are read (DuckDB, no JSON), so a
    run that resumes late in a long log parses only the requests it needs.
    """
    import duckdb

    from keel.serving._predlog import log_root

    folder = f"{log_root(context)}/predictions/endpoint={endpoint}"
    if first_row <= 0 or ("://" not in folder and not any(Path(folder).glob("**/*.parquet"))):
        return since_ms, 0
    con = duckdb.connect()
    try:
        found = con.execute(
            "SELECT t, sum(n) OVER (ORDER BY t ROWS UNBOUNDED PRECEDING) - n AS before FROM ("
            " SELECT epoch_ms(time) AS t, sum(rows) AS n"
            " FROM read_parquet(?, hive_partitioning=true, union_by_name=true)"
            " WHERE epoch_ms(time) >= ? AND epoch_ms(time) < ? GROUP BY t)"
            " QUALIFY before + n > ? ORDER BY t LIMIT 1",
            [f"{folder}/**/*.parquet", since_ms or 0, until_ms, first_row],
        ).fetchone()
    finally:
        con.close()
    if found is None:
        return since_ms, 0
    return int(found[0]), int(found[1])


def row_windows(rows: LoggedRows, size: int, first_row: int, offset: int = 0) -> Iterator[Window]:
    """Full row windows from the one holding row ``first_row``; ``rows`` starts at row
    ``offset`` of the log."""
    k = first_row // size
    count = 0
    while (k + 1) * size <= offset + len(rows) and count < MAX_WINDOWS_PER_RUN:
        start, end = k * size, (k + 1) * size
        part = rows.take(start - offset, end - offset)
        closed = int(part.meta["time_ms"].iloc[-1])
        yield Window(window_id("rows", start, end), "rows", start, end, part, closed)
        k += 1
        count += 1
