"""Project isolation, on SQLite and PostgreSQL: two stores on one database, bound to two
projects, share nothing but the database.

In every domain: the same names are allowed in both, an id of the other project's
object is not found (and the message names nothing of the other project), lists do
not mix, and each project's audit chain is its own and verifies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from keel.errors import InvalidArgumentError, NotFoundError
from keel.store import (
    ArtifactRecord,
    AuditEntry,
    CheckResult,
    GateResult,
    LineageEdge,
    LineageNode,
    Metric,
    ModelFile,
    ModelVersionDraft,
    NewDatasetVersion,
    RunStatus,
    StepOutput,
    StepStatus,
    Store,
    open_store,
)


@pytest.fixture
def store(sql_store: Any) -> Any:
    """SQLite and PostgreSQL only: this module tests how the SQL store keeps projects apart (over REST, the same
    behaviour is shown through the server in tests/e2e)."""
    return sql_store


@pytest.fixture
def two(store: Any) -> Iterator[tuple[Store, Store]]:
    """Stores bound to projects ``alpha`` and ``beta`` on the ``store`` fixture's database:
    one sharing its connections (``for_project``), one opened on its own."""
    alpha = store.for_project("alpha")
    beta = open_store(store.database.uri, project="beta")
    alpha.open()
    beta.open()
    try:
        yield alpha, beta
    finally:
        alpha.close()
        beta.close()


def _draft(name: str = "m", sha: str = "a") -> ModelVersionDraft:
    return ModelVersionDraft(
        name=name,
        run_id="r" * 32,
        flavor="sklearn",
        format="skops",
        files=(ModelFile("model/model.skops", sha * 64, 10, "model"),),
    )


def _dataset(name: str, fill: str) -> NewDatasetVersion:
    return NewDatasetVersion(
        name=name,
        content_hash=fill * 64,
        size_bytes=10,
        num_rows=3,
        schema={"columns": []},
        profile={"num_rows": 3},
        source_uri="file:///data/a.csv",
        created_by="tester",
        created_at=1_000,
    )


def test_the_store_knows_its_project_and_refuses_bad_names(store: Any) -> None:
    assert store.project == "default"
    assert open_store(store.database.uri, project="team-a_1").project == "team-a_1"
    assert open_store(store.database.uri, project="_system").project == "_system"
    for bad in ("", "Team", "a b", "-a", "x" * 64, "../a", "_other"):
        with pytest.raises(InvalidArgumentError, match="project name"):
            open_store(store.database.uri, project=bad)
        with pytest.raises(InvalidArgumentError, match="project name"):
            store.for_project(bad)


def test_a_store_for_another_project_shares_the_connections(store: Any) -> None:
    other = store.for_project("other")
    assert (other.project, store.project, other.uri) == ("other", "default", store.uri)
    other.tracking.create_experiment("e")
    other.close()  # leaves the shared connections to the store it came from
    assert store.tracking.list_experiments() == []
    assert [e.name for e in store.for_project("other").tracking.list_experiments()] == ["e"]


# -- tracking ---------------------------------------------------------------------------


def test_experiments_and_runs_are_per_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    ea = alpha.tracking.create_experiment("iris")
    eb = beta.tracking.create_experiment("iris")  # the same name in another project
    assert ea.id != eb.id
    assert [e.id for e in alpha.tracking.list_experiments()] == [ea.id]
    assert beta.tracking.get_experiment_by_name("iris") == eb
    assert beta.tracking.get_or_create_experiment("iris").id == eb.id
    with pytest.raises(NotFoundError):
        beta.tracking.get_experiment(ea.id)

    run = alpha.tracking.create_run(ea.id, name="secret-run")
    alpha.tracking.log_batch(run.id, [Metric("acc", 0.9, 0, 1)], {"p": "1"}, {"t": "x"})
    alpha.tracking.record_artifact(run.id, ArtifactRecord("a.txt", 1, "c" * 64, 1))
    with pytest.raises(NotFoundError) as missing:
        beta.tracking.get_run(run.id)
    assert "nearest" not in str(missing.value)  # no id of alpha's runs is offered
    with pytest.raises(NotFoundError):
        beta.tracking.log_batch(run.id, [Metric("acc", 0.1, 1, 2)])
    with pytest.raises(NotFoundError):
        beta.tracking.end_run(run.id, RunStatus.FINISHED)
    with pytest.raises(NotFoundError):
        beta.tracking.record_artifact(run.id, ArtifactRecord("b.txt", 1, "d" * 64, 1))
    with pytest.raises(NotFoundError):
        beta.tracking.resolve_run_id(run.id[:6])
    with pytest.raises(NotFoundError, match="experiment"):
        beta.tracking.create_run(ea.id)  # another project's experiment
    with pytest.raises(NotFoundError, match="parent run"):
        beta.tracking.create_run(eb.id, parent_run_id=run.id)
    assert beta.tracking.get_metric_history(run.id, "acc") == []
    assert beta.tracking.list_artifacts(run.id) == []
    assert beta.tracking.search_runs([ea.id, eb.id]) == []
    assert beta.tracking.search_runs([ea.id], "metrics.acc > 0") == []

    # Nothing of beta's touched alpha's run.
    got = alpha.tracking.get_run(run.id)
    assert got.status is RunStatus.RUNNING and got.metrics == {"acc": 0.9}
    assert [m.value for m in alpha.tracking.get_metric_history(run.id, "acc")] == [0.9]
    assert [a.path for a in alpha.tracking.list_artifacts(run.id)] == ["a.txt"]
    assert alpha.tracking.resolve_run_id(run.id[:6]) == run.id
    assert [r.id for r in alpha.tracking.search_runs([ea.id, eb.id], "metrics.acc > 0")] == [run.id]


def test_an_empty_search_names_only_keys_of_its_own_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    ea = alpha.tracking.create_experiment("e")
    alpha.tracking.log_batch(alpha.tracking.create_run(ea.id).id, [Metric("alpha_secret", 1, 0, 1)])
    eb = beta.tracking.create_experiment("e")
    beta.tracking.log_batch(beta.tracking.create_run(eb.id).id, [Metric("loss", 1, 0, 1)])
    with pytest.raises(NotFoundError) as missing:
        beta.tracking.search_runs([ea.id, eb.id], "metrics.alpha_secrets > 0")
    assert "alpha_secret'" not in str(missing.value) and "loss" in str(missing.value)


# -- datasets ---------------------------------------------------------------------------


def test_datasets_are_per_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    va, _ = alpha.datasets.create_version(_dataset("sales", "a"))
    vb, created = beta.datasets.create_version(_dataset("sales", "a"))  # same name and bytes
    assert created and (va.version, vb.version) == (1, 1) and va.id != vb.id
    alpha.datasets.create_version(_dataset("sales", "b"))
    assert [v.version for v in alpha.datasets.list_versions("sales")] == [1, 2]
    assert [v.version for v in beta.datasets.list_versions("sales")] == [1]
    assert [d.name for d in beta.datasets.list_datasets()] == ["sales"]
    assert beta.datasets.list_datasets()[0].num_versions == 1
    with pytest.raises(NotFoundError):
        beta.datasets.get_version_by_id(va.id)
    with pytest.raises(NotFoundError):
        beta.datasets.record_validation(va.id, {"ok": True}, True)
    assert alpha.datasets.get_version_by_id(va.id).validation is None
    with pytest.raises(NotFoundError, match="has no version 2; versions are 1$"):
        beta.datasets.get_version("sales", 2)
    with pytest.raises(NotFoundError, match="no version whose content hash"):
        beta.datasets.find_version_by_hash("sales", "bbbb")

    alpha.datasets.create_version(_dataset("alpha-only", "c"))
    with pytest.raises(NotFoundError) as missing:
        beta.datasets.get_version("alpha-onl")
    assert "alpha-only" not in str(missing.value)
    with pytest.raises(NotFoundError) as missing:
        beta.datasets.list_versions("alpha-only")
    assert "did you mean" not in str(missing.value)


# -- registry ---------------------------------------------------------------------------


def _gate(name: str, version: int) -> GateResult:
    check = CheckResult("metric: f1 >= 0.9", 0.95, "f1 >= 0.9", True, "")
    return GateResult(
        f"{name}{version}".ljust(32, "0"), name, version, "champion", True, (check,), {}, 1, "ann"
    )


def test_models_are_per_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    alpha.registry.create_version(_draft(), "ann")
    alpha.registry.create_version(_draft(sha="b"), "ann")
    vb = beta.registry.create_version(_draft(sha="c"), "bob")  # same name: its own version 1
    assert vb.version == 1
    assert [m.latest_version for m in alpha.registry.list_models()] == [2]
    assert [m.latest_version for m in beta.registry.list_models()] == [1]
    alpha.registry.move_alias("m", "champion", 2, 0, "promote", "ann", None, _gate("m", 2))
    beta.registry.move_alias("m", "champion", 1, 0, "promote", "bob")
    assert alpha.registry.get_alias("m", "champion").version == 2
    assert beta.registry.get_alias("m", "champion").version == 1
    assert [h.actor for h in beta.registry.alias_history("m")] == ["bob"]
    with pytest.raises(NotFoundError):
        beta.registry.get_version("m", 2)
    with pytest.raises(NotFoundError):
        beta.registry.get_gate_result(_gate("m", 2).id)
    assert beta.registry.list_gate_results("m") == []
    assert len(alpha.registry.list_gate_results("m")) == 1
    alpha.registry.archive_version("m", 1, "ann")
    assert beta.registry.get_version("m", 1).status.value == "READY"

    alpha.registry.create_version(_draft("alpha-model"), "ann")
    with pytest.raises(NotFoundError) as missing:
        beta.registry.get_model("alpha-mode")
    assert "alpha-model" not in str(missing.value)
    states = {(o.object_type, o.object_id) for o in beta.registry.audited_state()}
    assert ("model_version", "m/2") not in states and ("model_version", "m/1") in states


# -- pipelines --------------------------------------------------------------------------


def test_pipeline_runs_and_the_step_cache_are_per_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    ra = alpha.pipelines.create_pipeline_run("etl", [("a", [])])
    rb = beta.pipelines.create_pipeline_run("etl", [("a", [])])
    step = ra.steps[0]
    alpha.pipelines.start_step_run(step.id, "k" * 64, "h" * 64, {}, [])
    out = StepOutput("return", "json", "e" * 64, "e" * 64)
    alpha.pipelines.finish_step_run(step.id, StepStatus.FINISHED, [out])
    assert alpha.pipelines.find_cached_step_run("k" * 64) is not None
    assert beta.pipelines.find_cached_step_run("k" * 64) is None  # no reuse across projects
    assert [r.id for r in beta.pipelines.list_pipeline_runs()] == [rb.id]
    assert [r.id for r in alpha.pipelines.list_pipeline_runs("etl")] == [ra.id]
    with pytest.raises(NotFoundError):
        beta.pipelines.get_pipeline_run(ra.id)
    with pytest.raises(NotFoundError):
        beta.pipelines.get_step_run(step.id)
    with pytest.raises(NotFoundError):
        beta.pipelines.start_step_run(step.id, "k" * 64, "h" * 64, {}, [])
    with pytest.raises(NotFoundError):
        beta.pipelines.finish_step_run(step.id, StepStatus.FAILED)
    with pytest.raises(NotFoundError):
        beta.pipelines.end_pipeline_run(ra.id, "FINISHED")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        beta.pipelines.resolve_pipeline_run_id(ra.id[:8])
    assert alpha.pipelines.resolve_pipeline_run_id(ra.id[:8]) == ra.id


# -- lineage ----------------------------------------------------------------------------


def test_lineage_is_per_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    src = LineageNode("source", "file:///data/x.csv", "x.csv")
    alpha.lineage.add_edges([LineageEdge(src, LineageNode("dataset_version", "d1", "x@1"), "in")])
    beta.lineage.add_edges(
        [LineageEdge(LineageNode("source", src.id, "beta's label"), LineageNode("run", "r"), "in")]
    )
    down_a = alpha.lineage.downstream(src)
    down_b = beta.lineage.downstream(src)
    assert {n.id for n in down_a.nodes} == {src.id, "d1"}
    assert {n.id for n in down_b.nodes} == {src.id, "r"}
    assert down_a.root.label == "x.csv" and down_b.root.label == "beta's label"
    assert beta.lineage.upstream(LineageNode("dataset_version", "d1")).edges == ()


# -- audit chains and roles -------------------------------------------------------------


def test_each_project_has_its_own_audit_chain(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    for i in range(3):
        alpha.governance.append(AuditEntry("ann", "thing.change", "thing", f"a{i}"))
    beta.governance.append(AuditEntry("bob", "thing.change", "thing", "b0"))
    assert [e.seq for e in alpha.governance.list_events()] == [1, 2, 3]
    assert [(e.seq, e.object_id) for e in beta.governance.read_events()] == [(1, "b0")]
    assert beta.governance.list_events(actor="ann") == []
    assert beta.governance.latest_event("thing", "a1") is None
    assert (alpha.governance.head().seq, beta.governance.head().seq) == (3, 1)
    assert beta.governance.list_events()[0].prev_hash == "0" * 64
    assert alpha.governance.verify().ok and beta.governance.verify().ok
    assert alpha.governance.verify().events == 3

    # Tampering with one project's chain breaks that one only.
    with alpha.database.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            sa.text("UPDATE audit_events SET actor = 'x' WHERE project = 'alpha' AND seq = 2")
        )
    assert alpha.governance.verify().broken_at == 2
    assert beta.governance.verify().ok


def test_appends_to_two_projects_at_once_keep_both_chains(two: tuple[Store, Store]) -> None:
    def work(s: Store, i: int) -> None:
        for j in range(8):
            s.governance.append(AuditEntry("t", "x.y", "thing", f"{i}-{j}"))

    threads = [threading.Thread(target=work, args=(s, i)) for i, s in enumerate(two * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in two:
        result = s.governance.verify()
        assert result.ok and result.events == 16


def test_roles_are_per_project(two: tuple[Store, Store]) -> None:
    alpha, beta = two
    alpha.governance.grant_role("carol", "maintainer", "root")
    beta.governance.grant_role("carol", "viewer", "root")
    assert [(g.user, g.role) for g in alpha.governance.list_roles()] == [("carol", "maintainer")]
    assert [(g.user, g.role) for g in beta.governance.list_roles("carol")] == [("carol", "viewer")]
    with pytest.raises(NotFoundError, match="holders are: none"):
        beta.governance.revoke_role("carol", "maintainer", "root")
    assert [o.object_id for o in beta.governance.audited_state()] == ["carol:viewer"]
    assert [e.action for e in alpha.governance.list_events(object_type="role")] == ["role.grant"]
    assert alpha.access.role_in("carol", "alpha") == "maintainer"
    assert alpha.access.role_in("carol", "beta") == "viewer"
    assert alpha.access.role_in("carol", "default") is None
