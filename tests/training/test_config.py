"""``keel train CONFIG.yaml`` and its strict config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keel.errors import ConfigError
from keel.training import load_train_config, train_from_config

CONFIG = """\
experiment: iris-yaml
run_name: tree
model:
  pipeline:
    - {class: sklearn.preprocessing.StandardScaler}
    - {class: sklearn.tree.DecisionTreeClassifier, params: {random_state: 0}}
data: iris.csv
target: species
cv: {type: stratified, n_splits: 3}
evaluation: [accuracy]
search:
  method: random
  n_trials: 3
  space:
    decisiontreeclassifier__max_depth: {type: int, low: 1, high: 4}
intended_use: Testing the YAML config.
"""


@pytest.fixture
def config_file(tmp_path: Path, iris) -> Path:
    iris.to_csv(tmp_path / "iris.csv", index=False)
    path = tmp_path / "train.yaml"
    path.write_text(CONFIG)
    return path


def test_train_from_yaml(client, config_file: Path) -> None:
    result = train_from_config(config_file)
    run = client.get_run(result.run_id)
    assert run.name == "tree" and run.params["model"] == "Pipeline"
    assert len(client.search_runs("iris-yaml", f"parent_run_id = '{run.id}'")) == 3
    assert result.model_card["intended_use"]["purpose"] == "Testing the YAML config."


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (("data: iris.csv", "data: iris.csv\ndatta: x"), "datta: Extra inputs are not permitted"),
        (("{random_state: 0}", "{random_state: 0}, bogus: 1"), "model.pipeline"),
        (("target: species", "target: [species"), r"not valid YAML \(line \d+, column \d+: "),
    ],
)
def test_config_is_strict(config_file: Path, edit: tuple[str, str], match: str) -> None:
    config_file.write_text(CONFIG.replace(*edit))
    with pytest.raises(ConfigError, match=match) as caught:
        load_train_config(config_file)
    assert "\n" not in str(caught.value)  # one line, as the CLI prints it


def test_unknown_model_class(client, config_file: Path) -> None:
    config_file.write_text(
        CONFIG.replace("sklearn.tree.DecisionTreeClassifier", "sklearn.tree.DecisionTreeClassifer")
    )
    with pytest.raises(Exception, match="has no class 'DecisionTreeClassifer'"):
        train_from_config(config_file)
    assert client.search_runs() == []


def test_cli_train_prints_metrics_and_errors_in_one_line(config_file: Path, keel_home) -> None:
    keel = Path(sys.executable).parent / "keel"
    done = subprocess.run(
        [str(keel), "train", str(config_file)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert "cv.accuracy_mean" in done.stdout and "keel runs show" in done.stdout
    config_file.write_text(CONFIG.replace("target: species", "target: specie"))
    bad = subprocess.run(
        [str(keel), "train", str(config_file)], capture_output=True, text=True, timeout=240
    )
    assert bad.returncode == 1
    assert "target column 'specie' not in data" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
