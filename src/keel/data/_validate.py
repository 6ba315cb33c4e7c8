"""Checking a normalised Parquet file against :class:`Expectations`.

Two engines, each where it is exact and bounded in memory:

* dataset-level checks (column presence, type, nullability, uniqueness, row count,
  SQL checks) run as DuckDB SQL over the whole file;
* row-level checks (ranges, allowed values, regex, Python checks) run with pandera,
  chunk by chunk (:data:`CHUNK_ROWS` rows at a time), or on a uniform sample of
  ``Expectations.sample`` rows when one is asked for.

Failure counts add up across chunks; each failing check keeps up to five example rows.
"""

# DuckDB SQL is built from quoted identifiers (quote_ident) and integers; the checked file
# is a view made through DuckDB's relational API, and a check's own `sql:` is the user's
# expression by design (it runs on a private in-memory connection).
# ruff: noqa: S608

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.data._expectations import ColumnExpectation, Expectations, load_expectations
from keel.data._report import CheckOutcome, ValidationReport
from keel.data._sql import quote_ident
from keel.errors import InvalidArgumentError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from keel.context import Context
    from keel.data._version import DatasetVersion

__all__ = ["CHUNK_ROWS", "validate", "validate_parquet"]

#: Rows per pandera chunk for row-level checks.
CHUNK_ROWS = 100_000
_EXAMPLES = 5
#: The view, on the validating connection, of the file under check (with row numbers).
_CHECKED = "keel_checked"
_NUMERIC = ("integer", "float", "decimal")
_TEMPORAL = ("timestamp", "date", "time")


def _plain(value: Any) -> Any:
    """A JSON-able version of a cell value (numpy scalars, timestamps, NaN)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, bool, int)):
        return value
    try:
        import pandas as pd

        if value is pd.NaT or (not isinstance(value, (list, dict)) and pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


class _Outcomes:
    """Failure counts and examples per (column, check), summed over chunks."""

    def __init__(self) -> None:
        self.order: list[tuple[str | None, str]] = []
        self.failures: dict[tuple[str | None, str], int] = {}
        self.examples: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
        self.messages: dict[tuple[str | None, str], str] = {}

    def declare(self, column: str | None, check: str, message: str = "") -> None:
        key = (column, check)
        if key not in self.failures:
            self.order.append(key)
            self.failures[key] = 0
            self.examples[key] = []
            self.messages[key] = message

    def fail(
        self,
        column: str | None,
        check: str,
        count: int,
        examples: list[dict[str, Any]],
        message: str = "",
    ) -> None:
        self.declare(column, check)
        key = (column, check)
        self.failures[key] += count
        room = _EXAMPLES - len(self.examples[key])
        self.examples[key].extend(examples[: max(0, room)])
        if message:
            self.messages[key] = message

    def outcomes(self) -> list[CheckOutcome]:
        return [
            CheckOutcome(
                check=check,
                column=column,
                passed=self.failures[(column, check)] == 0,
                failures=self.failures[(column, check)],
                examples=tuple(self.examples[(column, check)]),
                message=self.messages[(column, check)] if self.failures[(column, check)] else "",
            )
            for column, check in self.order
        ]


def _rows(
    con: duckdb.DuckDBPyConnection, table: str, where: str, order: str = ""
) -> list[dict[str, Any]]:
    query = (
        f"SELECT file_row_number AS row, * EXCLUDE (file_row_number) FROM {table} "
        f"WHERE {where} ORDER BY {order or ''}file_row_number LIMIT {_EXAMPLES}"
    )
    return [
        {k: _plain(v) for k, v in r.items()} for r in con.sql(query).to_arrow_table().to_pylist()
    ]


def _scalar(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    return con.execute(query).fetchall()[0][0]


def _type_ok(expected: str, actual: str) -> bool:
    if expected == "numeric":
        return actual in _NUMERIC
    return expected == actual


def validate_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    expectations: Expectations,
    columns: list[dict[str, Any]],
    profile: Mapping[str, Any],
) -> ValidationReport:
    """Check the Parquet file at ``path`` (with its schema and profile) against ``expectations``."""
    # through DuckDB's relational API: the file's path never enters SQL text
    con.read_parquet(str(path), file_row_number=True).create_view(_CHECKED, replace=True)
    num_rows = int(profile["num_rows"])
    types = {c["name"]: c["type"] for c in columns}
    out = _Outcomes()
    _check_table(expectations, num_rows, types, out)
    row_level: dict[str, ColumnExpectation] = {}
    for name, ce in expectations.columns.items():
        if name not in types:
            if ce.required:
                out.declare(name, "exists")
                out.fail(name, "exists", 1, [], f"the column is missing; columns are {list(types)}")
            continue
        if _check_column(con, name, ce, types[name], profile, out):
            row_level[name] = ce
    _check_sql(con, expectations, out)

    python_checks = [c for c in expectations.checks if c.fn is not None]
    sampled = False
    rows_checked = num_rows
    if row_level or python_checks:
        schema = _pandera_schema(row_level, python_checks, types)
        if expectations.sample is not None and expectations.sample < num_rows:
            sampled = True
            rows_checked = expectations.sample
            chunks: Iterator[pd.DataFrame] = _sample_chunk(
                con, _CHECKED, expectations.sample, expectations.seed
            )
        else:
            chunks = _chunks(path)
        for chunk in chunks:
            _run_pandera(schema, chunk, out)
    checks = out.outcomes()
    checks.sort(key=lambda c: c.passed)
    return ValidationReport(
        passed=all(c.passed for c in checks),
        checks=tuple(checks),
        rows_checked=rows_checked,
        num_rows=num_rows,
        sampled=sampled,
    )


def _check_table(
    expectations: Expectations, num_rows: int, types: Mapping[str, str], out: _Outcomes
) -> None:
    """The checks of the whole table: row count, no extra columns."""
    if expectations.rows is not None:
        lo, hi = expectations.rows.min, expectations.rows.max
        label = f"row_count(min={lo}, max={hi})"
        out.declare(None, label)
        if (lo is not None and num_rows < lo) or (hi is not None and num_rows > hi):
            out.fail(None, label, 1, [], f"the dataset has {num_rows} rows")
    if expectations.strict:
        extra = [n for n in types if n not in expectations.columns]
        out.declare(None, "no_extra_columns")
        if extra:
            out.fail(None, "no_extra_columns", len(extra), [], f"unexpected columns {extra}")


def _check_column(
    con: duckdb.DuckDBPyConnection,
    name: str,
    ce: ColumnExpectation,
    actual: str,
    profile: Mapping[str, Any],
    out: _Outcomes,
) -> bool:
    """Type, null and uniqueness checks of one present column, answered from the profile
    or by DuckDB; returns whether row-level checks (range, allowed, regex) remain for it."""
    num_rows = int(profile["num_rows"])
    col_profile = profile["columns"][name]
    q = quote_ident(name)
    if ce.type is not None:
        check = f"type({ce.type})"
        out.declare(name, check)
        if not _type_ok(ce.type, actual):
            out.fail(name, check, num_rows, [], f"the column is {actual}")
    if not ce.nullable:
        out.declare(name, "not_null")
        nulls = int(col_profile["nulls"])
        if nulls:
            out.fail(
                name,
                "not_null",
                nulls,
                _rows(con, _CHECKED, f"{q} IS NULL"),
                f"{nulls} null values",
            )
    if ce.unique:
        _check_unique(con, name, profile, out)
    if ce.min is None and ce.max is None and ce.allowed is None and ce.regex is None:
        return False
    if (ce.min is not None or ce.max is not None) and actual not in _NUMERIC + _TEMPORAL:
        check = f"range({ce.min}, {ce.max})"
        out.declare(name, check)
        out.fail(
            name, check, num_rows, [], f"min/max need a numeric or time column; it is {actual}"
        )
        return False
    if ce.regex is not None and actual not in ("string", "categorical"):
        check = f"regex({ce.regex!r})"
        out.declare(name, check)
        out.fail(name, check, num_rows, [], f"regex needs a string column; it is {actual}")
        return False
    return True


def _check_unique(
    con: duckdb.DuckDBPyConnection, name: str, profile: Mapping[str, Any], out: _Outcomes
) -> None:
    """Uniqueness: free when the profile's exact distinct count proves it, else one query."""
    table, q = _CHECKED, quote_ident(name)
    col_profile = profile["columns"][name]
    out.declare(name, "unique")
    non_null = int(profile["num_rows"]) - int(col_profile["nulls"])
    exact_distinct = not profile.get("approximate") and "distinct" in col_profile
    if exact_distinct and int(col_profile["distinct"]) == non_null:
        return
    dupes = int(
        _scalar(
            con,
            f"SELECT coalesce(sum(c), 0) FROM (SELECT count(*) AS c FROM {table} "
            f"WHERE {q} IS NOT NULL GROUP BY {q} HAVING count(*) > 1)",
        )
    )
    if dupes:
        where = (
            f"{q} IN (SELECT {q} FROM {table} WHERE {q} IS NOT NULL GROUP BY {q} "
            f"HAVING count(*) > 1 ORDER BY min(file_row_number) LIMIT {_EXAMPLES})"
        )
        out.fail(
            name,
            "unique",
            dupes,
            _rows(con, table, where, order=f"{q}, "),
            f"{dupes} rows share a value with another row",
        )


def _check_sql(con: duckdb.DuckDBPyConnection, expectations: Expectations, out: _Outcomes) -> None:
    """The custom ``sql:`` checks, each one DuckDB query over the checked table."""
    for custom in expectations.checks:
        if custom.sql is None:
            continue
        label = f"sql({custom.name})"
        out.declare(None, label)
        condition = f"NOT coalesce(({custom.sql}), false)"
        try:
            failing = int(_scalar(con, f"SELECT count(*) FROM {_CHECKED} WHERE {condition}"))
        except Exception as exc:
            first = str(exc).splitlines()[0]
            raise InvalidArgumentError(
                f"SQL check {custom.name!r} ({custom.sql!r}) does not run: {first}; write a DuckDB "
                "boolean expression over the column names"
            ) from None
        if failing:
            out.fail(
                None,
                label,
                failing,
                _rows(con, _CHECKED, condition),
                f"{failing} rows fail {custom.sql!r}",
            )


def _bound(value: Any, ltype: str) -> Any:
    if isinstance(value, str) and ltype in _TEMPORAL:
        import pandas as pd

        try:
            return pd.Timestamp(value)
        except ValueError:
            raise InvalidArgumentError(
                f"bound {value!r} is not a date or time; use ISO 8601 such as '2024-01-31'"
            ) from None
    return value


def _pandera_schema(
    row_level: Mapping[str, ColumnExpectation], python_checks: list[Any], types: Mapping[str, str]
) -> Any:
    import pandera.pandas as pa

    columns = {}
    for name, ce in row_level.items():
        checks = []
        if ce.min is not None:
            label = f"min({ce.min})"
            checks.append(pa.Check.ge(_bound(ce.min, types[name]), name=label, error=label))
        if ce.max is not None:
            label = f"max({ce.max})"
            checks.append(pa.Check.le(_bound(ce.max, types[name]), name=label, error=label))
        if ce.allowed is not None:
            allowed = [v for v in ce.allowed if v is not None]
            label = f"allowed({allowed})"
            checks.append(pa.Check.isin(allowed, name=label, error=label))
        if ce.regex is not None:
            label = f"regex({ce.regex!r})"
            checks.append(pa.Check.str_matches(f"(?:{ce.regex})\\Z", name=label, error=label))
        columns[name] = pa.Column(checks=checks, nullable=True, required=False)
    frame_checks = [
        pa.Check(c.fn, name=f"python({c.name})", error=f"python({c.name})") for c in python_checks
    ]
    return pa.DataFrameSchema(columns, checks=frame_checks)


def _chunks(path: Path) -> Iterator[pd.DataFrame]:
    import pandas as pd
    import pyarrow.parquet as pq

    offset = 0
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(batch_size=CHUNK_ROWS):
            df = batch.to_pandas()
            df.index = pd.RangeIndex(offset, offset + len(df))
            offset += len(df)
            yield df


def _sample_chunk(
    con: duckdb.DuckDBPyConnection, table: str, n: int, seed: int
) -> Iterator[pd.DataFrame]:
    sample = con.sql(
        f"SELECT * FROM {table} USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)}) "
        "ORDER BY file_row_number"
    ).to_arrow_table()
    df = sample.to_pandas()
    df.index = df.pop("file_row_number").astype("int64").to_numpy()
    yield df


def _run_pandera(schema: Any, chunk: pd.DataFrame, out: _Outcomes) -> None:
    import pandera.pandas as pa

    for name, column in schema.columns.items():
        for check in column.checks:
            out.declare(name, check.error or check.name)
    for check in schema.checks:
        out.declare(None, check.error or check.name)
    try:
        schema.validate(chunk, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return
    frame_level = cases["schema_context"] == "DataFrameSchema"
    cases = cases.assign(column=cases["column"].where(~frame_level, None))
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        col = column if isinstance(column, str) else None
        indexes = [i for i in group["index"].tolist() if i is not None and not _isnan(i)]
        unique = list(dict.fromkeys(int(i) for i in indexes))
        if not unique:
            # The check itself failed (an exception, or a scalar False from a Python check).
            detail = str(group["failure_case"].iloc[0])
            message = "the check returned False" if detail == "False" else _short(detail)
            out.fail(col, str(check), 1, [], message)
            continue
        examples = [
            {"row": i, **{str(k): _plain(v) for k, v in chunk.loc[i].items()}}
            for i in unique[:_EXAMPLES]
        ]
        out.fail(col, str(check), len(unique), examples)


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _short(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(
    data: str | os.PathLike[str] | DatasetVersion | object,
    expectations: Expectations | Mapping[str, Any] | str | os.PathLike[str],
    *,
    context: Context | None = None,
) -> ValidationReport:
    """Check data against expectations without registering anything.

    Args:
        data: a dataset reference (``"iris/2"``) or ``DatasetVersion``, a file path or
            URL, or a DataFrame / Arrow table.
        expectations: an :class:`Expectations`, its dict form, or a YAML file path.
        context: where a reference is looked up (the current context by default).

    Returns:
        The :class:`ValidationReport` (``.passed``, ``.failures``, ``.summary()``).

    Example::

        >>> report = keel.datasets.validate("iris/1", "expectations.yaml")
        >>> report.passed
        True
    """
    from keel.context import current_context
    from keel.data._datasets import get
    from keel.data._ingest import connect_duckdb, ingest
    from keel.data._profile import profile_parquet, schema_of
    from keel.data._version import DatasetVersion

    expect = load_expectations(expectations)
    version: DatasetVersion | None = None
    if isinstance(data, DatasetVersion):
        version = data
    elif isinstance(data, str) and not Path(data).exists() and "://" not in data:
        version = get(data, context=context)
    if version is not None:
        path = version.local_path()
        con = connect_duckdb()
        try:
            columns = [c.to_dict() for c in version.schema.columns]
            return validate_parquet(con, path, expect, columns, version.profile)
        finally:
            con.close()
    tmp_root = (context or current_context()).settings.home.absolute() / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="validate-") as tmp:
        dest = Path(tmp) / "data.parquet"
        ingest(data, dest)
        con = connect_duckdb(Path(tmp))
        try:
            columns = schema_of(dest)
            profile = profile_parquet(con, dest, columns)
            return validate_parquet(con, dest, expect, columns, profile)
        finally:
            con.close()
