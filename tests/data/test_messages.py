"""Dataset errors echo user input cut to a readable length, and suggest names that keep letters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.data import check_name
from keel.data._names import suggest_name
from keel.errors import InvalidArgumentError, show_input

LONG = "A" * 10_000


def test_show_input_keeps_short_values_and_cuts_long_ones() -> None:
    assert show_input("iris") == "'iris'"
    assert show_input(3) == "3"
    cut = show_input("x" * 10_000)
    assert len(cut) < 90 and cut.startswith("'xxx") and cut.endswith("... (10000 characters)")
    assert show_input(list(range(1000)), 30).endswith("...")


def test_a_long_name_is_echoed_once_and_cut() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_name(LONG)
    message = str(info.value)
    assert len(message) < 200, len(message)
    assert "(10000 characters) is invalid: too long; use at most 128 characters" in message
    assert "A" * 100 not in message and "a" * 100 not in message


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("ïris-ü", "iris-u"),
        ("Ïris Data (v2)", "iris-data-v2"),
        ("Straße", "strae"),
        ("\uff46\uff55\uff4c\uff4c", "full"),  # fullwidth letters (NFKD compatibility)
        ("données.brutes_2024", "donnees.brutes_2024"),
    ],
)
def test_suggested_name_keeps_the_letters(name: str, suggested: str) -> None:
    assert suggest_name(name) == suggested
    with pytest.raises(InvalidArgumentError, match=f"e.g. '{suggested}'"):
        check_name(name)


def test_no_suggestion_when_nothing_is_left() -> None:
    assert suggest_name("数据") is None
    with pytest.raises(InvalidArgumentError) as info:
        check_name("数据")
    assert "e.g." not in str(info.value)


def test_long_reference_tag_and_column_are_cut(client) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        keel.datasets.get("x" * 10_000 + "/3")
    assert len(str(info.value)) < 400
    with pytest.raises(InvalidArgumentError) as info:
        keel.datasets.register(pd.DataFrame({"a": [1]}), "ok", tags={"t" * 10_000: "v"})
    assert len(str(info.value)) < 300
    keel.datasets.register(pd.DataFrame({"a": [1, 2]}), "ok")
    with pytest.raises(InvalidArgumentError) as info:
        keel.datasets.split("ok", {"a": 0.5, "b": 0.5}, stratify="c" * 10_000)
    assert len(str(info.value)) < 300


def test_cli_echoes_a_long_name_once_on_one_short_line(tmp_path: Path, datasets_cli) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    proc = datasets_cli("register", str(data), "--name", LONG, "-q")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 400, proc.stderr[:500]
    assert lines[0].startswith("error: dataset name 'AAAA") and "10000 characters" in lines[0]
