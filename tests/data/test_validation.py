"""Expectations checked at registration and on demand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.data import Check, ColumnExpectation, DatasetValidationError, Expectations, RowCount
from keel.errors import InvalidArgumentError

PEOPLE = pd.DataFrame(
    {
        "id": [1, 2, 3, 3, 5],
        "age": [34, 200, None, 41, 17],
        "species": ["cat", "dog", "cat", "eel", "dog"],
        "email": ["a@x.io", "b@x.io", "nope", "d@x.io", "e@x.io"],
        "income": [10.0, 20.0, None, -5.0, 0.0],
    }
)

SPEC = """
rows: {min: 1, max: 100}
columns:
  id: {type: integer, unique: true, nullable: false}
  age: {type: numeric, min: 0, max: 130, nullable: false}
  species: {allowed: [cat, dog]}
  email: {regex: '[^@]+@[^@]+'}
checks:
  - name: income_not_negative
    sql: "income IS NULL OR income >= 0"
"""


def _by_name(report) -> dict:
    return {(c.column, c.check): c for c in report.checks}


def test_failing_data_is_not_registered_and_report_names_each_check(client, tmp_path: Path) -> None:
    spec = tmp_path / "expectations.yaml"
    spec.write_text(SPEC)
    with pytest.raises(DatasetValidationError, match="fails its expectations") as info:
        keel.datasets.register(PEOPLE, "people", expectations=spec)
    assert keel.datasets.list() == []
    report = info.value.report
    assert report is not None and not report.passed
    checks = _by_name(report)
    assert checks[("id", "unique")].failures == 2
    assert [e["row"] for e in checks[("id", "unique")].examples] == [2, 3]
    assert checks[("age", "max(130)")].failures == 1
    assert checks[("age", "max(130)")].examples[0] == {
        "row": 1,
        "id": 2,
        "age": 200.0,
        "species": "dog",
        "email": "b@x.io",
        "income": 20.0,
    }
    assert checks[("age", "not_null")].failures == 1
    assert checks[("species", "allowed(['cat', 'dog'])")].failures == 1
    assert checks[("email", "regex('[^@]+@[^@]+')")].examples[0]["row"] == 2
    assert checks[(None, "sql(income_not_negative)")].failures == 1
    assert checks[("id", "type(integer)")].passed
    assert checks[(None, "row_count(min=1, max=100)")].passed
    assert [c.passed for c in report.checks] == sorted(c.passed for c in report.checks)


def test_allow_invalid_registers_marked_invalid_with_report(client, tmp_path: Path) -> None:
    spec = tmp_path / "expectations.yaml"
    spec.write_text(SPEC)
    v = keel.datasets.register(PEOPLE, "people", expectations=spec, allow_invalid=True)
    assert v.valid is False
    stored = keel.datasets.get("people")
    assert stored.valid is False
    assert stored.validation == v.validation
    assert not stored.validation.passed
    assert len(stored.validation.failures) == 6


def test_passing_data_is_valid(client) -> None:
    good = PEOPLE.iloc[[0, 4]]
    exp = Expectations(
        rows=RowCount(min=2, max=2),
        columns={
            "age": ColumnExpectation(min=0, max=130),
            "species": ColumnExpectation(allowed=["cat", "dog"]),
        },
        checks=[Check(name="positive_id", fn=lambda df: df["id"] > 0)],
    )
    v = keel.datasets.register(good, "good", expectations=exp)
    assert v.valid and v.validation.passed
    assert v.validation.summary() == f"all {len(v.validation.checks)} checks passed"


def test_python_check_counts_failing_rows_across_chunks(client, monkeypatch) -> None:
    import keel.data._validate as validate_module

    monkeypatch.setattr(validate_module, "CHUNK_ROWS", 7)
    df = pd.DataFrame({"x": range(50)})
    exp = Expectations(
        columns={"x": ColumnExpectation(max=39)},
        checks=[Check(name="even", fn=lambda d: d["x"] % 2 == 0)],
    )
    report = keel.datasets.validate(df, exp)
    checks = _by_name(report)
    assert checks[("x", "max(39)")].failures == 10
    assert checks[(None, "python(even)")].failures == 25
    assert len(checks[(None, "python(even)")].examples) == 5
    assert report.rows_checked == 50 and not report.sampled


def test_sampling_is_reported(client) -> None:
    df = pd.DataFrame({"x": range(1000)})
    report = keel.datasets.validate(df, {"columns": {"x": {"max": 499}}, "sample": 100, "seed": 3})
    assert report.sampled and report.rows_checked == 100
    fails = _by_name(report)[("x", "max(499)")].failures
    assert 20 < fails < 80  # about half of a uniform sample


def test_validate_existing_version_and_timestamps(client) -> None:
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2025-06-01"])})
    keel.datasets.register(df, "times")
    report = keel.datasets.validate("times", {"columns": {"t": {"max": "2024-12-31"}}})
    assert _by_name(report)[("t", "max(2024-12-31)")].failures == 1


def test_missing_column_and_strict(client) -> None:
    df = pd.DataFrame({"a": [1], "extra": [2]})
    report = keel.datasets.validate(
        df, {"strict": True, "columns": {"a": {}, "b": {}, "c": {"required": False}}}
    )
    checks = _by_name(report)
    assert not checks[("b", "exists")].passed
    assert ("c", "exists") not in checks
    assert "['extra']" in checks[(None, "no_extra_columns")].message


def test_type_mismatches_are_failures(client) -> None:
    df = pd.DataFrame({"s": ["a"], "n": [1.5]})
    report = keel.datasets.validate(
        df, {"columns": {"s": {"min": 0}, "n": {"type": "integer", "regex": "x"}}}
    )
    messages = {c.check: c.message for c in report.failures}
    assert "min/max need a numeric or time column; it is string" in messages["range(0, None)"]
    assert messages["type(integer)"] == "the column is float"


def test_expectation_mistakes_are_clear(client, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"columns\.a: .*regex .\(. is invalid"):
        keel.datasets.validate(pd.DataFrame({"a": ["x"]}), {"columns": {"a": {"regex": "("}}})
    with pytest.raises(InvalidArgumentError, match="does not run"):
        keel.datasets.validate(
            pd.DataFrame({"a": [1]}), {"checks": [{"name": "c", "sql": "nope > 1"}]}
        )
    with pytest.raises(InvalidArgumentError, match="exactly one of 'sql' or 'fn'"):
        keel.datasets.validate(pd.DataFrame({"a": [1]}), {"checks": [{"name": "c"}]})
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        keel.datasets.validate(pd.DataFrame({"a": [1]}), tmp_path / "missing.yaml")


def test_malformed_expectations_yaml_is_one_line_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "expect.yaml"
    bad.write_text("columns:\n  a: {type: int64\n  b: {}\n")
    with pytest.raises(InvalidArgumentError, match=r"not valid YAML \(line 3, column \d+: ") as e:
        keel.datasets.validate(pd.DataFrame({"a": [1]}), bad)
    assert "\n" not in str(e.value)
    bad.write_bytes(b"\xff\xfecolumns: {}\n")
    with pytest.raises(InvalidArgumentError, match="is not UTF-8 text"):
        keel.datasets.validate(pd.DataFrame({"a": [1]}), bad)
