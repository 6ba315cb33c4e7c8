"""One reference grammar: ``iris/3`` and ``iris/sha256:...`` select, ``iris@latest`` points.

The old dataset forms ``iris@3`` and ``iris@sha256:...`` keep working with a
KeelDeprecationWarning (a FutureWarning, shown by default), in the SDK and the CLI.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.data import DatasetReference, parse_reference
from keel.errors import InvalidArgumentError, KeelDeprecationWarning


def test_canonical_forms_parse_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_reference("iris") == DatasetReference("iris")
        assert parse_reference("iris@latest") == DatasetReference("iris")
        assert parse_reference("iris/3") == DatasetReference("iris", version=3)
        assert parse_reference("iris/sha256:3FA9c1") == DatasetReference(
            "iris", hash_prefix="3fa9c1"
        )
    assert str(parse_reference("iris/sha256:3fa9c1")) == "iris/sha256:3fa9c1"
    assert str(parse_reference("iris/3")) == "iris/3"


@pytest.mark.parametrize(
    ("old", "new"), [("iris@3", "iris/3"), ("iris@sha256:3fa9c1", "iris/sha256:3fa9c1")]
)
def test_old_forms_parse_with_a_deprecation_naming_the_new_form(old: str, new: str) -> None:
    with pytest.warns(KeelDeprecationWarning, match=f"write '{new}'") as caught:
        assert parse_reference(old) == parse_reference(new)
    assert issubclass(caught[0].category, FutureWarning)  # shown by default


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("iris@champion", "datasets have one pointer, @latest"),
        ("iris/latest", "write iris@latest for the latest"),
        ("iris/0", "after '/' use a version number"),
        ("iris/sha256:xyz", "after '/' use a version number"),
        ("iris/3/4", "after '/' use a version number"),
        ("Iris/3", "dataset name 'Iris' is invalid"),
    ],
)
def test_malformed_references_say_what_to_write(text: str, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        parse_reference(text)


def test_versions_print_and_resolve_as_name_slash_version(client) -> None:
    v1 = keel.datasets.register(pd.DataFrame({"x": [1, 2]}), "nums")
    v2 = keel.datasets.register(pd.DataFrame({"x": [1, 2, 3]}), "nums")
    assert (str(v1), v1.reference, v2.reference) == ("nums/1", "nums/1", "nums/2")
    assert f"{v2}" == "nums/2"
    assert v1.lineage_node().label == "nums/1"
    assert keel.datasets.get(str(v1)).id == v1.id
    assert keel.datasets.get(f"nums/sha256:{v2.content_hash[:10]}").id == v2.id
    assert keel.datasets.diff(str(v1), str(v2)).a == "nums/1"
    part = keel.datasets.split("nums/2", {"a": 0.5, "b": 0.5})["a"]
    assert part.derivation is not None and part.derivation["parent"] == "nums/2"
    assert part.source_uri == "dataset:nums/2#a"


def test_old_forms_still_resolve_in_get_split_and_diff(client) -> None:
    v1 = keel.datasets.register(pd.DataFrame({"x": [1, 2]}), "nums")
    v2 = keel.datasets.register(pd.DataFrame({"x": [1, 2, 3]}), "nums")
    with pytest.warns(KeelDeprecationWarning, match="write 'nums/1'"):
        assert keel.datasets.get("nums@1").id == v1.id
    with pytest.warns(KeelDeprecationWarning, match="write 'nums/sha256:"):
        assert keel.datasets.get(f"nums@sha256:{v2.content_hash[:8]}").id == v2.id
    with pytest.warns(KeelDeprecationWarning):
        assert keel.datasets.diff("nums@1", "nums@2").b == "nums/2"
    with pytest.warns(KeelDeprecationWarning):
        parts = keel.datasets.split("nums@2", {"a": 0.5, "b": 0.5})
    assert parts["a"].parent_ids == (v2.id,)


def test_old_attribute_and_function_names_warn(client) -> None:
    v = keel.datasets.register(pd.DataFrame({"x": [1]}), "nums")
    with pytest.warns(KeelDeprecationWarning, match="use DatasetVersion.reference"):
        assert v.ref == "nums/1"
    from keel.data import parse_ref

    with pytest.warns(KeelDeprecationWarning, match="use keel.data.parse_reference"):
        assert parse_ref("nums/1").version == 1


def test_cli_shows_the_deprecation_as_one_line_and_still_works(
    tmp_path: Path, datasets_cli
) -> None:
    _cli = datasets_cli
    data = tmp_path / "t.csv"
    data.write_text("a\n1\n2\n")
    assert _cli("register", str(data), "--name", "t", "-q").returncode == 0
    new = _cli("show", "t/1")
    assert new.returncode == 0 and new.stderr == ""
    old = _cli("show", "t@1")
    assert old.returncode == 0, old.stderr
    assert old.stdout == new.stdout
    assert old.stderr.splitlines() == [
        "warning: dataset reference 't@1' uses the old form: '@' now names a pointer "
        "(t@latest) and '/' a version; write 't/1'"
    ]
    assert "t/1" in _cli("list", "t").stdout
    assert "reference" in _cli("show", "--help").stdout.lower()
