"""Labels from ``/feedback``, joined to logged predictions by request id (DuckDB).

A label counts for a prediction when it arrived within ``lateness`` of it; of several,
the latest in time wins. Labels that came later are counted as late, feedback for
request ids the log does not hold as unknown, and labels whose type does not fit the
model's outputs (a word for a classifier of integers, a list for one row) as invalid:
each is reported, none is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from keel.context import Context

__all__ = ["LabelCheck", "check_labels", "joined_labels", "unknown_feedback"]


def _folders(context: Context, endpoint: str) -> tuple[str, str]:
    from keel.serving._predlog import log_root

    root = log_root(context)
    return (
        f"{root}/predictions/endpoint={endpoint}",
        f"{root}/feedback/endpoint={endpoint}",
    )


def _has_files(folder: str) -> bool:
    return "://" in folder or any(Path(folder).glob("**/*.parquet"))


def joined_labels(
    context: Context, endpoint: str, requests: pd.DataFrame, lateness_ms: int
) -> tuple[dict[str, str], int]:
    """Label (JSON text) per request id of ``requests`` (request_id, time_ms), and how
    many labels came later than ``lateness_ms``."""
    import duckdb

    _, feedback = _folders(context, endpoint)
    if not len(requests) or not _has_files(feedback):
        return {}, 0
    con = duckdb.connect()
    try:
        con.register("w", requests[["request_id", "time_ms"]].drop_duplicates("request_id"))
        rows = con.execute(
            "SELECT w.request_id,"
            " arg_max(f.label, f.time) FILTER (WHERE epoch_ms(f.time) <= w.time_ms + ?) AS label,"
            " count(*) FILTER (WHERE epoch_ms(f.time) > w.time_ms + ?) AS late"
            " FROM w JOIN read_parquet(?, hive_partitioning=true, union_by_name=true) f"
            " USING (request_id) GROUP BY w.request_id",
            [lateness_ms, lateness_ms, f"{feedback}/**/*.parquet"],
        ).fetchall()
    finally:
        con.close()
    labels = {str(rid): str(label) for rid, label, _ in rows if label is not None}
    late = sum(1 for _, label, n in rows if label is None and n)
    return labels, late


def unknown_feedback(context: Context, endpoint: str) -> int:
    """Feedback rows of the endpoint whose request id is not in its prediction log."""
    import duckdb

    predictions, feedback = _folders(context, endpoint)
    if not _has_files(feedback):
        return 0
    con = duckdb.connect()
    try:
        if not _has_files(predictions):
            row = con.execute(
                "SELECT count(*) FROM read_parquet(?, hive_partitioning=true, union_by_name=true)",
                [f"{feedback}/**/*.parquet"],
            ).fetchone()
        else:
            row = con.execute(
                "SELECT count(*) FROM read_parquet(?, hive_partitioning=true, union_by_name=true) f"
                " ANTI JOIN read_parquet(?, hive_partitioning=true, union_by_name=true) p"
                " USING (request_id)",
                [f"{feedback}/**/*.parquet", f"{predictions}/**/*.parquet"],
            ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


@dataclass
class LabelCheck:
    """Labels of a window's rows, checked against the model's output type.

    Attributes:
        truth: per row, its label (``None``: none, or invalid).
        invalid: rows whose label does not fit.
        examples: a few invalid labels, as text.
    """

    truth: list[Any]
    invalid: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> int:
        return sum(1 for t in self.truth if t is not None)


def _fits(value: Any, task: str, classes: Sequence[Any] | None) -> tuple[bool, Any]:
    if value is None or isinstance(value, (list, dict)):
        return False, None
    if task == "regression":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, None
        return math.isfinite(float(value)), float(value)
    if classes:
        sample = classes[0]
        if isinstance(sample, str):
            return isinstance(value, str), value
        if isinstance(sample, bool):
            return isinstance(value, bool), value
        if isinstance(sample, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False, None
            if isinstance(sample, int) and float(value).is_integer():
                return True, int(value)
            return True, value
    return True, value


def check_labels(
    request_ids: Sequence[str],
    rows: Sequence[int],
    labels: dict[str, str],
    task: str,
    classes: Sequence[Any] | None,
) -> LabelCheck:
    """Each row's label: a request of one row takes a scalar label, one of n rows a list of n.

    ``rows`` is each row's position in its request; ``labels`` the JSON text per request.
    """
    import orjson

    parsed: dict[str, Any] = {}
    for rid, text in labels.items():
        try:
            parsed[rid] = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed[rid] = _BAD
    sizes: dict[str, int] = {}
    for rid, j in zip(request_ids, rows, strict=True):
        sizes[rid] = max(sizes.get(rid, 0), j + 1)
    out = LabelCheck([])
    for rid, j in zip(request_ids, rows, strict=True):
        if rid not in parsed:
            out.truth.append(None)
            continue
        label = parsed[rid]
        if sizes[rid] > 1:
            label = label[j] if isinstance(label, list) and len(label) == sizes[rid] else _BAD
        ok, value = (False, None) if label is _BAD else _fits(label, task, classes)
        if ok:
            out.truth.append(value)
        else:
            out.truth.append(None)
            out.invalid += 1
            if len(out.examples) < 5:
                out.examples.append(str(labels[rid])[:60])
    return out


_BAD = object()
