"""Quotes, backslashes, NUL and unicode in paths and column names, end to end.

The helpers in ``keel.data._sql`` are checked against DuckDB itself (what goes in comes
back out unchanged), then a file whose folder, name and columns hold ``'``, ``"``,
``\\`` and non-ASCII letters is registered, shown, split three ways, validated and
diffed, through the SDK and the real ``keel`` command.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import keel
from keel.data._sql import quote_ident, quote_literal
from keel.errors import InvalidArgumentError

NASTY = [
    "plain",
    "it's",
    "''",
    'say "hi"',
    '""',
    "back\\slash\\",
    "\\'",
    "ünïcødé ✓ 数据",
    "semi;colon -- comment /* c */",
    "'); DROP TABLE x; --",
    "tab\tand\nnewline",
]


@pytest.mark.parametrize("text", NASTY)
def test_quote_literal_round_trips_through_duckdb(text: str) -> None:
    assert duckdb.sql(f"SELECT {quote_literal(text)}").fetchall() == [(text,)]


@pytest.mark.parametrize("text", NASTY)
def test_quote_ident_round_trips_through_duckdb(text: str) -> None:
    rel = duckdb.sql(f"SELECT 1 AS {quote_ident(text)}")
    assert rel.columns == [text]


def test_quoting_doubles_quotes_and_keeps_backslashes() -> None:
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("a\\b") == "'a\\b'"
    assert quote_ident('say "hi"') == '"say ""hi"""'
    assert quote_ident("ü") == '"ü"'


@pytest.mark.parametrize(
    ("helper", "kind"), [(quote_ident, "column name"), (quote_literal, "value")]
)
def test_nul_is_refused_with_a_clear_error(helper, kind: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^{kind} 'a\\x00b' contains a NUL") as info:
        helper("a\x00b")
    assert "rename it without control characters" in str(info.value)


@pytest.mark.parametrize("helper", [quote_ident, quote_literal])
def test_non_text_is_refused(helper) -> None:
    with pytest.raises(InvalidArgumentError, match="is a int; expected text"):
        helper(3)


COLUMNS = ["it's", 'say "hi"', "back\\slash", "ünïcødé", "when"]


def _csv_field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
def nasty_csv(tmp_path: Path) -> Path:
    folder = tmp_path / 'we\'ird "dir" \\ ü'
    folder.mkdir()
    path = folder / "dätä'\"\\.csv"
    lines = [",".join(_csv_field(c) for c in COLUMNS)]
    for i in range(60):
        kind = "O'Brien" if i % 2 else 'say "x"'
        lines.append(f"{_csv_field(kind)},g{i % 6},{i}\\y,{i * 1.5},2024-01-{1 + i % 28:02d}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_register_split_validate_diff_head_with_nasty_names(client, nasty_csv: Path) -> None:
    v = keel.datasets.register(nasty_csv, "nasty")
    assert v.columns == COLUMNS and v.num_rows == 60
    assert v.source_uri == nasty_csv.absolute().as_uri()
    head = v.head(2)
    assert head["it's"].tolist() == ['say "x"', "O'Brien"]
    assert head["back\\slash"].tolist() == ["0\\y", "1\\y"]

    by_kind = keel.datasets.split(v, {"a": 0.5, "b": 0.5}, stratify="it's", seed=3)
    assert by_kind["a"].to_pandas()["it's"].value_counts().to_dict() == {
        "O'Brien": 15,
        'say "x"': 15,
    }
    by_group = keel.datasets.split(v, {"a": 0.5, "b": 0.5}, group='say "hi"', seed=3)
    groups = [set(p.to_pandas()['say "hi"']) for p in by_group.values()]
    assert not groups[0] & groups[1] and groups[0] | groups[1] == {f"g{i}" for i in range(6)}
    by_time = keel.datasets.split(v, {"a": 0.5, "b": 0.5}, time="when")
    assert by_time["a"].to_pandas()["when"].max() <= by_time["b"].to_pandas()["when"].min()

    report = keel.datasets.validate(
        v,
        {
            "columns": {
                "it's": {"allowed": ["O'Brien", 'say "x"'], "nullable": False},
                'say "hi"': {"regex": "g[0-9]"},
                "back\\slash": {"unique": True},
                "ünïcødé": {"min": 0, "max": 100},
            },
            "checks": [{"name": "quoted", "sql": "\"it's\" <> 'it''s'"}],
        },
    )
    assert report.passed, report.summary()
    failing = keel.datasets.validate(
        v, {"columns": {"it's": {"allowed": ["O'Brien"]}, 'say "hi"': {"unique": True}}}
    )
    fails = {(c.column, c.check): c for c in failing.failures}
    assert fails[("it's", 'allowed(["O\'Brien"])')].failures == 30
    assert fails[('say "hi"', "unique")].failures == 60

    v2 = keel.datasets.register(by_kind["a"].to_pandas().assign(**{"ünïcødé": 0.0}), "nasty")
    d = keel.datasets.diff(v, v2)
    assert d.rows == (60, 30)
    assert {s.column for s in d.shifts} >= {"it's", 'say "hi"', "ünïcødé"}


def test_cli_registers_and_shows_nasty_names(nasty_csv: Path, datasets_cli) -> None:
    cli = datasets_cli

    reg = cli("register", str(nasty_csv), "--name", "nasty", "-q")
    assert reg.returncode == 0, reg.stderr
    head = cli("head", "nasty/1", "-n", "2")
    assert head.returncode == 0, head.stderr
    assert "O'Brien" in head.stdout and "back\\slash" in head.stdout and "ünïcødé" in head.stdout
    split = cli("split", "nasty/1", "-f", "a=0.5", "-f", "b=0.5", "--stratify", "it's")
    assert split.returncode == 0 and "nasty-a/1 30 rows" in split.stdout, split.stderr
