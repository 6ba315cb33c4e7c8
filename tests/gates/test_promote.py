"""Promotion through policies, forced promotion, no-ops, rollback and alias history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import keel
import keel.governance
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.gates import parse_policy
from keel.governance import PermissionDeniedError

POLICY = parse_policy("""\
checks:
  - metric: f1_macro >= 0.90
  - no_regression: {metric: f1_macro, tolerance: 0.01}
  - latency: p99_ms <= 1000
  - onnx_parity: max_abs_diff <= 1e-4
""")


def test_promote_fail_promote_rollback(client: Any, register_model: Any) -> None:
    register_model(metrics={"f1_macro": 0.95})
    register_model(metrics={"f1_macro": 0.60})
    register_model(metrics={"f1_macro": 0.97})

    first = keel.models.promote("iris", 1, to="champion", policy=POLICY)
    assert first.status == "promoted" and first.gate is not None and first.gate.passed
    latency = first.gate.checks[2]
    assert latency.passed and isinstance(latency.value, float) and latency.bound == "p99_ms <= 1000"

    worse = keel.models.promote("iris", 2, to="champion", policy=POLICY)
    assert worse.status == "rejected" and not worse.moved
    failed = {c.check: c for c in worse.gate.failed_checks}
    assert set(failed) == {"metric: f1_macro >= 0.9", "no_regression: f1_macro (tolerance 0.01)"}
    assert failed["metric: f1_macro >= 0.9"].value == 0.60
    assert "holder v1 0.95" in failed["no_regression: f1_macro (tolerance 0.01)"].detail
    assert keel.models.get("iris@champion").version == 1
    stored = client.store.registry.get_gate_result(worse.gate.id)
    assert not stored.passed and [c.verdict for c in stored.checks] == [
        "fail",
        "fail",
        "pass",
        "pass",
    ]

    better = keel.models.promote("iris", 3, to="champion", policy=POLICY)
    assert better.status == "promoted" and better.previous == 1
    assert keel.models.get("iris@champion").version == 3

    back = keel.models.rollback("iris", "champion")
    assert (back.version, back.previous) == (1, 3)
    assert keel.models.get("iris@champion").version == 1
    with pytest.raises(ConflictError, match="no previous holder"):
        keel.models.rollback("iris", "champion")

    moves = keel.models.alias_history("iris", "champion")
    assert [(m.action, m.from_version, m.to_version) for m in moves] == [
        ("promote", None, 1),
        ("promote", 1, 3),
        ("rollback", 3, 1),
    ]
    actions = [e.action for e in keel.governance.list_events("iris@champion")]
    assert actions == ["alias.promote", "promotion.reject", "alias.promote", "alias.rollback"]
    assert keel.governance.verify().ok


def test_promoting_to_an_alias_already_held_is_a_noop(client: Any, register_model: Any) -> None:
    register_model()
    keel.models.promote("iris", 1, to="champion", policy=POLICY)
    before = len(keel.governance.list_events())
    again = keel.models.promote("iris", 1, to="champion", policy=POLICY)
    assert again.status == "noop" and "already holds iris@champion" in again.message
    assert len(keel.governance.list_events()) == before


def test_successive_rollbacks_walk_back(client: Any, register_model: Any) -> None:
    for _ in range(3):
        register_model()
    for n in (1, 2, 3):
        keel.models.promote("iris", n, to="champion", policy=None)
    assert keel.models.rollback("iris").version == 2
    assert keel.models.rollback("iris").version == 1


def test_force_needs_admin_and_reason(client: Any, register_model: Any) -> None:
    register_model(metrics={"f1_macro": 0.5})
    actor = client.settings.resolved_actor()
    with pytest.raises(InvalidArgumentError, match="needs a reason"):
        keel.models.promote("iris", 1, to="champion", policy=POLICY, force=True)
    with pytest.raises(PermissionDeniedError, match=f"user '{actor}' does not hold it"):
        keel.models.promote("iris", 1, to="champion", policy=POLICY, force=True, reason="hotfix")
    with pytest.raises(NotFoundError):
        client.store.registry.get_alias("iris", "champion")
    keel.governance.grant_role(actor, "admin")  # the first admin bootstraps
    out = keel.models.promote(
        "iris", 1, to="champion", policy=POLICY, force=True, reason="hotfix for incident 42"
    )
    assert out.status == "forced" and out.gate.forced and not out.gate.passed
    event = keel.governance.list_events("iris@champion")[-1]
    assert event.action == "alias.force_promote" and event.reason == "hotfix for incident 42"
    assert event.after["checks"]["metric: f1_macro >= 0.9"] == "fail"
    # Once an admin exists, only admins grant.
    other = keel.tracking.Client(settings=client.settings.model_copy(update={"actor": "mallory"}))
    with pytest.raises(PermissionDeniedError, match="admins are: " + actor):
        keel.governance.grant_role("mallory", "admin", context=other.context)
    with pytest.raises(ConflictError, match="last admin"):
        keel.governance.revoke_role(actor, "admin")
    assert [
        e.action for e in keel.governance.list_events(actor=actor) if e.object_type == "role"
    ] == ["role.grant"]


def test_fairness_artifacts_and_training_data_checks(client: Any, iris_xy: Any) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris_xy
    with keel.start_run(experiment="iris"):
        keel.log_metrics(
            {
                "test.f1_macro": 0.93,
                "fairness.sex.demographic_parity_difference": 0.04,
                "fairness.age.demographic_parity_difference": 0.12,
            }
        )
        keel.log_text("# card", "model_card.md")
        keel.log_dict({"mean_abs": [0.1]}, "shap/importance.json")
        keel.log_model(DecisionTreeClassifier().fit(X, y), name="fair", input_example=X.head(3))
    policy = parse_policy("""\
checks:
  - metric: f1_macro >= 0.9
  - fairness: demographic_parity_difference <= 0.10
  - required_artifacts: [model_card, shap, onnx, plots/roc.png]
  - training_data_valid: true
""")
    out = keel.models.promote("fair", 1, to="champion", policy=policy)
    by_kind = {c.check.split(":")[0]: c for c in out.gate.checks}
    assert by_kind["metric"].passed and "test.f1_macro = 0.93" in by_kind["metric"].detail
    assert not by_kind["fairness"].passed and by_kind["fairness"].value == pytest.approx(0.12)
    assert "fairness.age.demographic_parity_difference" in by_kind["fairness"].detail
    assert not by_kind["required_artifacts"].passed
    assert by_kind["required_artifacts"].detail == "missing: plots/roc.png"
    assert not by_kind["training_data_valid"].passed
    assert "no training dataset" in by_kind["training_data_valid"].detail
    assert out.status == "rejected"


def test_no_regression_on_the_same_evaluation_dataset(
    client: Any, register_model: Any, iris_xy: Any, tmp_path: Path
) -> None:
    from sklearn.dummy import DummyClassifier

    X, y = iris_xy
    holdout = X.assign(target=y).sample(60, random_state=1)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    register_model()  # a forest: high f1
    register_model(model=DummyClassifier(strategy="most_frequent"), metrics={"f1_macro": 0.99})
    keel.models.promote("iris", 1, to="champion", policy=None)
    policy = parse_policy(f"""\
checks:
  - no_regression: {{metric: f1_macro, tolerance: 0.05, dataset: {tmp_path / "holdout.csv"}, target: target}}
""")
    out = keel.models.promote("iris", 2, to="champion", policy=policy)
    check = out.gate.checks[0]
    # The logged metric (0.99) lies; re-evaluation on the shared holdout catches it.
    assert out.status == "rejected" and check.value < 0.5
    assert f"both evaluated on {tmp_path / 'holdout.csv'}" in check.detail


def test_versions_evaluated_on_different_datasets_are_named_and_the_hint_works(
    client: Any, iris_xy: Any
) -> None:
    """Datasets are shown as name/version, with the policy line that compares them fairly."""
    from sklearn.dummy import DummyClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris_xy
    frame = X.assign(target=y)
    holdouts = {
        "holdout-a": keel.datasets.register(frame.sample(50, random_state=1), "holdout-a"),
        "holdout-b": keel.datasets.register(frame.sample(50, random_state=2), "holdout-b"),
    }
    models = {"holdout-a": DecisionTreeClassifier(random_state=0), "holdout-b": DummyClassifier()}
    for name, dataset in holdouts.items():
        with keel.start_run(experiment="iris"):
            keel.log_input(dataset.lineage_node(), "evaluated_on")
            keel.log_param("target", "target")
            keel.log_metric("f1_macro", 0.95)  # the dummy's logged metric flatters it
            keel.log_model(models[name].fit(X, y), name="ev", onnx=False)
    keel.models.promote("ev/1", to="champion", policy=None)
    out = keel.models.promote("ev/2", to="champion", policy=POLICY)
    check = next(c for c in out.gate.checks if c.check.startswith("no_regression"))
    assert not check.passed
    assert "candidate ev/2 on holdout-b/1, holder ev/1 on holdout-a/1" in check.detail
    hint = (
        "no_regression: {metric: f1_macro, tolerance: 0.01, dataset: holdout-b/1, target: target}"
    )
    assert hint in check.detail
    assert holdouts["holdout-a"].id not in check.detail  # ids are not how users name data
    onnx = next(c for c in out.gate.checks if c.check.startswith("onnx_parity"))
    assert not onnx.passed and "no ONNX export was kept" in onnx.detail
    # Following the hint evaluates both versions on the same data, which catches the dummy.
    fair = parse_policy(
        "checks:\n  - no_regression: {metric: f1_macro, tolerance: 0.01, dataset: holdout-b, "
        "target: target}\n"
    )
    again = keel.models.promote("ev/2", to="champion", policy=fair)
    verdict = again.gate.checks[0]
    assert again.status == "rejected" and verdict.value < 0.5
    assert "both evaluated on holdout-b/1" in verdict.detail


def test_training_data_check_names_datasets_by_name_and_version(client: Any, iris_xy: Any) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris_xy
    train = keel.datasets.register(X.assign(target=y), "flowers-train")
    with keel.start_run(experiment="iris"):
        keel.log_input(train.lineage_node(), "trained_on")
        keel.log_model(DecisionTreeClassifier().fit(X, y), name="td", onnx=False)
    policy = parse_policy("checks:\n  - training_data_valid: true\n")
    check = keel.models.promote("td/1", to="champion", policy=policy).gate.checks[0]
    assert check.passed and check.detail.endswith("passed validation: flowers-train/1")
    assert check.value == {"flowers-train/1": True}


def test_unknown_model_and_bad_alias(client: Any, register_model: Any) -> None:
    register_model()
    with pytest.raises(NotFoundError, match="model 'nope' does not exist; models are: iris"):
        keel.models.promote("nope", 1, to="champion", policy=POLICY)
    with pytest.raises(NotFoundError, match="versions are: 1"):
        keel.models.promote("iris", 5, to="champion", policy=POLICY)
    with pytest.raises(InvalidArgumentError, match="reserved"):
        keel.models.promote("iris", 1, to="latest", policy=POLICY)
    with pytest.raises(NotFoundError, match="has no alias 'champion'"):
        keel.models.rollback("iris", "champion")
    assert client.store.registry.list_aliases("iris") == []


def test_delete_alias_is_admin_only_and_audited(client: Any, register_model: Any) -> None:
    register_model()
    keel.models.promote("iris", 1, to="challenger", policy=None)
    with pytest.raises(PermissionDeniedError):
        keel.models.delete_alias("iris", "challenger")
    keel.governance.grant_role(client.settings.resolved_actor(), "admin")
    keel.models.delete_alias("iris", "challenger", reason="experiment over")
    assert client.store.registry.list_aliases("iris") == []
    assert keel.governance.list_events("iris@challenger")[-1].action == "alias.delete"
