"""Declarations in Python and YAML: strict models, errors that name the file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from keel.features import (
    Entity,
    FeatureDefinitionError,
    FeatureService,
    FeatureView,
    format_ttl,
    load_declarations,
    parse_ttl,
)

YAML = """\
entities:
  - name: customer
    join_keys: {customer_id: int64}
feature_views:
  - name: spend
    entities: [customer]
    timestamp: ts
    created_at: loaded_at
    ttl: 7d
    source: {dataset: transactions/2}
    features: {amount: float64, orders: int64}
feature_services:
  - name: churn
    features: [spend:amount, "spend:*"]
"""


def test_yaml_declarations_load(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(YAML)
    found = load_declarations(path)
    assert [e.name for e in found.entities] == ["customer"]
    (view,) = found.views
    assert view.ttl == 7 * 86400 and view.created_at == "loaded_at"
    assert view.feature_names == ["amount", "orders"] and view.source.dataset == "transactions/2"
    assert found.services[0].features == ["spend:amount", "spend:*"]
    assert found.origin[("feature_view", "spend")] == f"{path} line 5"
    # the spec is plain JSON data and equal declarations give equal specs
    assert FeatureView.model_validate(view.spec()) == view


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    ttl: 7d\n",
            "    ttll: 7d\n",
            "line 9: feature view 'spend', ttll: unknown key 'ttll'",
        ),
        (
            "    ttl: 7d\n",
            "    ttl: seven days\n",
            "line 9: feature view 'spend', ttl: ttl 'seven days' is not a duration",
        ),
        (
            "{amount: float64, ",
            "{amount: decimal, ",
            "line 11: feature view 'spend', features.0.dtype: 'decimal' is not allowed",
        ),
        (
            "    timestamp: ts\n",
            "",
            "line 5: feature view 'spend', timestamp: 'timestamp' is required",
        ),
        (
            "{dataset: transactions/2}",
            "{dataset: a, parquet: b}",
            "a source is exactly one of dataset",
        ),
        (
            "feature_services:",
            "feature_service:",
            "line 12: unknown section 'feature_service'; did you mean 'feature_services'?",
        ),
        ("[spend:amount,", "[spend.amount,", "feature reference 'spend.amount' is malformed"),
        (
            "join_keys: {customer_id: int64}",
            "join_keys: {customer id: int64}",
            "line 3: entity 'customer', join_keys.0.name: join key 'customer id' is invalid",
        ),
        (
            "    created_at: loaded_at\n",
            "    created_at: ts\n",
            "created_at and timestamp are both 'ts'",
        ),
        (
            "{amount: float64, orders: int64}",
            "{ts: float64}",
            "'ts' is a time column and cannot also be a feature",
        ),
        (
            '"spend:*"]\n',
            '"spend:*"]\n  - name: churn\n    features: [spend:amount]\n',
            "line 15: feature service 'churn' is declared twice (first at",
        ),
        ("entities: [customer]", "entities: [customer", "not valid YAML (line"),
    ],
)
def test_yaml_errors_name_the_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in YAML
    path = tmp_path / "features.yaml"
    path.write_text(YAML.replace(old, new, 1))
    with pytest.raises(FeatureDefinitionError, match=None) as caught:
        load_declarations(path)
    assert message in str(caught.value), str(caught.value)
    assert str(path) in str(caught.value)


def test_python_declarations_load_and_errors_name_the_line(tmp_path: Path) -> None:
    good = tmp_path / "defs.py"
    good.write_text(
        "from keel.features import Entity, FeatureView\n"
        "customer = Entity(name='customer', join_keys={'customer_id': 'int64'})\n"
        "views = [FeatureView(name=f'v{i}', entities=['customer'], timestamp='ts',\n"
        "                     source='transactions', features={'x': 'float64'}) for i in range(2)]\n"
    )
    found = load_declarations(good)
    assert [v.name for v in found.views] == ["v0", "v1"] and len(found.entities) == 1
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from keel.features import FeatureView\n"
        "\n"
        "v = FeatureView(name='v', entities=['customer'], timestamp='ts',\n"
        "                source='transactions', features={'x': 'float64'}, tll='1d')\n"
    )
    with pytest.raises(
        FeatureDefinitionError, match=r"bad.py line 3: FeatureView, tll: unknown key 'tll'"
    ):
        load_declarations(bad)
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\ny = 1 / 0\n")
    with pytest.raises(
        FeatureDefinitionError, match=r"broken.py line 2: running it failed: ZeroDivisionError"
    ):
        load_declarations(broken)


def test_a_folder_is_every_file_under_it(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(YAML)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text(
        "from keel.features import Entity\nstore = Entity(name='store', join_keys='store_id')\n"
    )
    (tmp_path / "_skipped.py").write_text("raise SystemExit('not read')\n")
    (tmp_path / "notes.txt").write_text("ignored")
    found = load_declarations(tmp_path)
    assert sorted(e.name for e in found.entities) == ["customer", "store"]
    with pytest.raises(FeatureDefinitionError, match="does not exist"):
        load_declarations(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FeatureDefinitionError, match="holds no .yaml"):
        load_declarations(empty)


def test_models_forbid_unknown_keys_and_check_names() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Entity(name="c", join_keys={"id": "int64"}, color="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="join keys repeat"):
        Entity(name="c", join_keys=[{"name": "id"}, {"name": "id"}])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="features repeat: x"):
        FeatureView(
            name="v", entities=["c"], timestamp="ts", source="d",
            features=[{"name": "x"}, {"name": "x"}],  # type: ignore[list-item]
        )  # fmt: skip
    with pytest.raises(ValidationError, match="an sql source names the datasets"):
        FeatureView(
            name="v",
            entities=["c"],
            timestamp="ts",
            source={"sql": "select 1"},
            features={"x": "int64"},
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="features repeat"):
        FeatureService(name="s", features=["v:x", "v:x"])


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ("7d", 604800),
        ("1d12h", 129600),
        ("90m", 5400),
        ("30s", 30),
        ("2w", 1209600),
        (3600, 3600),
        (dt.timedelta(hours=2), 7200),
        (None, None),
        ("none", None),
        (0, None),
    ],
)
def test_ttl_forms(given: object, seconds: int | None) -> None:
    assert parse_ttl(given) == seconds
    if seconds:
        assert parse_ttl(format_ttl(seconds)) == seconds


@pytest.mark.parametrize("given", ["7 days", "-1", "1.5", True, "d7", -5])
def test_bad_ttls(given: object) -> None:
    with pytest.raises(ValueError, match="ttl"):
        parse_ttl(given)
