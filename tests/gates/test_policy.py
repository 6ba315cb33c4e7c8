"""Policy files are parsed strictly; errors name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.errors import NotFoundError
from keel.gates import PolicyError, load_policy, parse_policy

GOOD = """\
name: production
checks:
  - metric: f1_macro >= 0.90
  - no_regression: {metric: f1_macro, tolerance: 0.02}
  - fairness: demographic_parity_difference <= 0.10
  - latency: p99_ms <= 50
  - required_artifacts: [model_card, shap]
  - training_data_valid: true
  - onnx_parity: max_abs_diff <= 1e-4
  - monitor_healthy: {monitor: iris-watch}
"""


def test_every_check_kind_parses() -> None:
    policy = parse_policy(GOOD, "p.yaml")
    assert policy.name == "production"
    assert [c.kind for c in policy.checks] == [
        "metric",
        "no_regression",
        "fairness",
        "latency",
        "required_artifacts",
        "training_data_valid",
        "onnx_parity",
        "monitor_healthy",
    ]
    assert policy.checks[7].options == {"monitor": "iris-watch"}
    assert policy.checks[7].describe() == "monitor_healthy: iris-watch"
    assert str(policy.checks[0].bound) == "f1_macro >= 0.9"
    assert policy.checks[1].options == {"metric": "f1_macro", "tolerance": 0.02}
    assert policy.checks[6].bound is not None and policy.checks[6].bound.value == 1e-4
    assert [c.line for c in policy.checks] == [3, 4, 5, 6, 7, 8, 9, 10]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "checks:\n  - metric: f1 >= 0.9\n  - metrc: f1 >= 0.9\n",
            r"p.yaml line 3: unknown check 'metrc'; did you mean 'metric'\?",
        ),
        (
            "checks:\n  - metric: f1_macro >= ninety\n",
            r"p.yaml line 2: bound 'f1_macro >= ninety' of metric is malformed",
        ),
        ("checks:\n  - metric: f1_macro => 0.9\n", r"line 2: bound 'f1_macro => 0.9'"),
        ("checks:\n\n  - latency: p42_ms <= 5\n", r"line 3: latency measures p50_ms"),
        (
            "checks:\n  - no_regression: {metric: f1, tolerance: high}\n",
            r"line 2: tolerance must be a number, got 'high'",
        ),
        (
            "checks:\n  - no_regression: {metric: f1, tolerence: 0.1}\n",
            r"line 2: no_regression has no option 'tolerence'",
        ),
        ("checks:\n  - no_regression: {tolerance: 0.1}\n", r"line 2: no_regression needs a metric"),
        ("checks:\n  - training_data_valid: false\n", r"line 2: training_data_valid takes true"),
        ("checks:\n  - required_artifacts: []\n", r"line 2: required_artifacts needs"),
        ("checks:\n  - monitor_healthy: iris-watch\n", r"line 2: monitor_healthy needs"),
        ("checks:\n  - monitor_healthy: {}\n", r"line 2: monitor_healthy needs a monitor"),
        (
            "checks:\n  - monitor_healthy: {monitr: w}\n",
            r"line 2: monitor_healthy has no option 'monitr'",
        ),
        ("checks:\n  - monitor_healthy: {monitor: 3}\n", r"monitor must be a monitor's name"),
        ("check:\n  - metric: f1 >= 1\n", r"line 1: unknown policy key 'check'"),
        ("name: x\n", r"has no 'checks:' list"),
        ("checks: [\n", r"p.yaml line 2: not valid YAML"),
        ("", r"the policy is empty"),
        ("checks:\n  - metric: f1 >= 1\n    fairness: x <= 1\n", r"line 2: each check is one"),
    ],
)
def test_bad_policies_name_the_line(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, "p.yaml")


def test_load_policy_from_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    assert len(load_policy(path).checks) == 8
    with pytest.raises(NotFoundError, match="does not exist"):
        load_policy(tmp_path / "missing.yaml")
