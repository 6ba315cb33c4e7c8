"""The RegistryStore contract on every backend (the ``store`` fixture: SQLite, PostgreSQL).

Versions, aliases and their history, optimistic concurrency, gate results, archiving,
listings and the not-found errors that list what exists.
"""

from __future__ import annotations

import math
import threading
import uuid
from typing import Any

import pytest

from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.governance._verify import verify_store
from keel.store import (
    CheckResult,
    GateResult,
    ModelFile,
    ModelStateError,
    ModelVersionDraft,
    ModelVersionStatus,
    Store,
)
from keel_server import recorded


def _draft(name: str = "iris", run: str = "r", **extra: Any) -> ModelVersionDraft:
    fields: dict[str, Any] = {
        "files": (
            ModelFile("model/model.skops", "a" * 64, 1234, "model"),
            ModelFile("model/keel-model.json", "b" * 64, 56, "descriptor"),
        ),
        "signature": {"inputs": [{"name": "x", "type": "double"}], "outputs": {"type": "label"}},
        "metrics": {"f1_macro": 0.95, "loss": float("nan")},
        "datasets": ("ds-1",),
        "details": {"trusted_types": ["sklearn.tree._tree.Tree"], "onnx": {"kept": False}},
        "description": "a forest",
    }
    fields.update(extra)
    return ModelVersionDraft(name=name, run_id=run * 32, flavor="sklearn", format="skops", **fields)


def _gate(version: int, alias: str = "champion", passed: bool = True) -> GateResult:
    checks = (
        CheckResult("metric: f1_macro >= 0.9", 0.95, "f1_macro >= 0.9", True, "ok"),
        CheckResult("required_artifacts: model_card", ["onnx"], "model_card", passed, "x"),
        CheckResult("no_regression: f1_macro", None, "no current holder", True, ""),
    )
    return GateResult(
        uuid.uuid4().hex, "iris", version, alias, passed, checks, {"name": "p"}, 1000, "ann"
    )


def test_versions_are_numbered_per_name_and_round_trip(store: Store) -> None:
    v1 = store.registry.create_version(_draft(), "ann")
    v2 = store.registry.create_version(_draft(run="s"), "bob")
    other = store.registry.create_version(_draft(name="wine"), "ann")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert v1.uri == v1.ref == "iris/1" and v1.status is ModelVersionStatus.READY
    assert [f.path for f in v1.files] == ["model/keel-model.json", "model/model.skops"]
    got = store.registry.get_version("iris", 1)
    assert got.files == v1.files and got.signature == v1.signature
    assert got.details == v1.details and got.datasets == ("ds-1",)
    assert (
        got.created_by == recorded(store, "ann")
        and got.description == "a forest"
        and got.run_id == "r" * 32
    )
    assert got.metrics["f1_macro"] == 0.95 and math.isnan(got.metrics["loss"])
    assert got.file("model") == v1.file("model") and got.file("onnx") is None
    assert got.digest() == store.registry.get_version("iris", 1).digest() != v2.digest()
    assert [v.version for v in store.registry.list_versions("iris")] == [1, 2]
    model = store.registry.get_model("iris")
    assert (model.name, model.latest_version, model.created_by, dict(model.aliases)) == (
        "iris",
        2,
        recorded(store, "ann"),
        {},
    )
    assert [(m.name, m.latest_version) for m in store.registry.list_models()] == [
        ("iris", 2),
        ("wine", 1),
    ]


def test_bad_drafts_are_refused_and_write_nothing(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="model name 'a/b' is invalid"):
        store.registry.create_version(_draft(name="a/b"), "ann")
    with pytest.raises(InvalidArgumentError, match="has no files"):
        store.registry.create_version(_draft(files=()), "ann")
    assert store.registry.list_models() == []
    assert store.governance.list_events() == []


def test_not_found_errors_list_what_exists(store: Store) -> None:
    with pytest.raises(NotFoundError, match="there are no models yet"):
        store.registry.get_model("iris")
    store.registry.create_version(_draft(), "ann")
    store.registry.create_version(_draft(), "ann")
    with pytest.raises(NotFoundError, match="model 'irsi' does not exist; did you mean iris"):
        store.registry.get_version("irsi", 1)
    with pytest.raises(NotFoundError, match="model 'iris' has no version 7; versions are: 1, 2"):
        store.registry.get_version("iris", 7)
    for huge in (10**30, 2**31, 0, -1):  # beyond the column: not found, not an overflow
        with pytest.raises(NotFoundError, match="versions are: 1, 2"):
            store.registry.get_version("iris", huge)
    with pytest.raises(NotFoundError, match="has no version 10000000000000000...; versions"):
        store.registry.move_alias("iris", "champion", 10**30, 0, "promote", "ann")
    with pytest.raises(NotFoundError, match="has no alias 'champion'; it has no aliases yet"):
        store.registry.get_alias("iris", "champion")
    store.registry.move_alias("iris", "champion", 1, 0, "promote", "ann")
    with pytest.raises(NotFoundError, match="did you mean champion"):
        store.registry.get_alias("iris", "champoin")
    with pytest.raises(NotFoundError, match="its aliases are: champion"):
        store.registry.delete_alias("iris", "prod", 1, "ann")
    for call in (
        lambda: store.registry.list_versions("nope"),
        lambda: store.registry.list_aliases("nope"),
        lambda: store.registry.alias_history("nope"),
        lambda: store.registry.archive_version("nope", 1, "ann"),
    ):
        with pytest.raises(NotFoundError, match="model 'nope' does not exist; models are: iris"):
            call()
    with pytest.raises(NotFoundError, match="gate result 'x' does not exist"):
        store.registry.get_gate_result("x")


def test_aliases_move_with_history_and_optimistic_concurrency(store: Store) -> None:
    for _ in range(3):
        store.registry.create_version(_draft(), "ann")
    gate = _gate(1)
    first = store.registry.move_alias("iris", "champion", 1, 0, "promote", "ann", "go", gate)
    assert (first.version, first.revision, first.updated_by) == (1, 1, recorded(store, "ann"))
    with pytest.raises(ConflictError, match="changed while this change was being prepared"):
        store.registry.move_alias("iris", "champion", 2, 0, "promote", "bob")  # it exists now
    moved_by = recorded(store, "ann")
    with pytest.raises(ConflictError, match=f"now points to version 1 \\(moved by {moved_by}\\)"):
        store.registry.move_alias("iris", "champion", 2, 5, "promote", "bob")  # stale revision
    second = store.registry.move_alias("iris", "champion", 3, 1, "promote", "bob")
    store.registry.move_alias("iris", "champion", 1, 2, "rollback", "bob", "incident")
    store.registry.move_alias("iris", "challenger", 2, 0, "promote", "ann")
    assert second.revision == 2 and store.registry.get_alias("iris", "champion").revision == 3
    assert [(a.alias, a.version) for a in store.registry.list_aliases("iris")] == [
        ("challenger", 2),
        ("champion", 1),
    ]
    assert dict(store.registry.get_model("iris").aliases) == {"challenger": 2, "champion": 1}
    moves = store.registry.alias_history("iris", "champion")
    assert [(m.action, m.from_version, m.to_version, m.actor) for m in moves] == [
        ("promote", None, 1, recorded(store, "ann")),
        ("promote", 1, 3, recorded(store, "bob")),
        ("rollback", 3, 1, recorded(store, "bob")),
    ]
    assert (moves[0].reason, moves[0].gate_result_id, moves[2].reason) == (
        "go",
        gate.id,
        "incident",
    )
    assert len(store.registry.alias_history("iris")) == 4
    with pytest.raises(ConflictError):
        store.registry.delete_alias("iris", "challenger", 7, "ann")
    store.registry.delete_alias("iris", "challenger", 1, "ann", "experiment over")
    last = store.registry.alias_history("iris", "challenger")[-1]
    assert (last.action, last.from_version, last.to_version, last.reason) == (
        "delete",
        2,
        None,
        "experiment over",
    )
    assert [a.alias for a in store.registry.list_aliases("iris")] == ["champion"]
    assert verify_store(store).ok


@pytest.mark.parametrize("alias", ["latest", "LATEST", "1st", "a b", "", "x" * 65])
def test_alias_names_are_checked(store: Store, alias: str) -> None:
    store.registry.create_version(_draft(), "ann")
    with pytest.raises(InvalidArgumentError, match="alias"):
        store.registry.move_alias("iris", alias, 1, 0, "promote", "ann")
    assert store.registry.list_aliases("iris") == []


def test_racing_moves_of_one_alias_let_exactly_one_win(store: Store) -> None:
    for _ in range(5):
        store.registry.create_version(_draft(), "ann")
    store.registry.move_alias("iris", "champion", 1, 0, "promote", "ann")
    barrier = threading.Barrier(4)
    won: list[int] = []
    lost: list[str] = []

    def promote(version: int) -> None:
        barrier.wait()
        try:
            store.registry.move_alias("iris", "champion", version, 1, "promote", f"u{version}")
            won.append(version)
        except ConflictError as exc:
            lost.append(str(exc))

    threads = [threading.Thread(target=promote, args=(v,)) for v in (2, 3, 4, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 3
    assert store.registry.get_alias("iris", "champion").version == won[0]
    assert len(store.registry.alias_history("iris", "champion")) == 2
    assert verify_store(store).ok


def test_gate_results_are_stored_with_moves_and_rejections(store: Store) -> None:
    store.registry.create_version(_draft(), "ann")
    store.registry.create_version(_draft(), "ann")
    passed = _gate(1)
    store.registry.move_alias("iris", "champion", 1, 0, "promote", "ann", None, passed)
    rejected = store.registry.record_gate_result(_gate(2, passed=False))
    got = store.registry.get_gate_result(passed.id)
    assert got == passed and got.digest() == passed.digest()
    assert store.registry.get_gate_result(rejected.id).failed_checks[0].value == ["onnx"]
    assert [g.id for g in store.registry.list_gate_results("iris")] == [passed.id, rejected.id]
    assert [g.id for g in store.registry.list_gate_results("iris", 2)] == [rejected.id]
    assert store.registry.get_alias("iris", "champion").version == 1  # a rejection moves nothing
    with pytest.raises(NotFoundError, match="has no version 9"):
        store.registry.record_gate_result(_gate(9, passed=False))
    actions = [e.action for e in store.governance.list_events(object_id="iris@champion")]
    assert actions == ["alias.promote", "promotion.reject"]


def test_archive(store: Store) -> None:
    store.registry.create_version(_draft(), "ann")
    store.registry.create_version(_draft(), "ann")
    store.registry.move_alias("iris", "champion", 2, 0, "promote", "ann")
    with pytest.raises(ModelStateError, match="it holds alias champion"):
        store.registry.archive_version("iris", 2, "ann")
    archived = store.registry.archive_version("iris", 1, "ann", "superseded")
    assert archived.status is ModelVersionStatus.ARCHIVED
    again = store.registry.archive_version("iris", 1, "ann")  # idempotent, not audited twice
    assert again.status is ModelVersionStatus.ARCHIVED
    assert [e.action for e in store.governance.list_events(object_id="iris/1")] == [
        "model_version.register",
        "model_version.archive",
    ]
    assert [v.status.value for v in store.registry.list_versions("iris")] == ["ARCHIVED", "READY"]
    with pytest.raises(ModelStateError, match="version 1 of 'iris' is archived"):
        store.registry.move_alias("iris", "challenger", 1, 0, "promote", "ann")
    assert verify_store(store).ok
