"""log_model / register / load: versions, files, signature, metrics, card, datasets, lineage."""

from __future__ import annotations

import json
from typing import Any

import pytest

import keel
import keel.governance
from keel.errors import ArtifactCorruptedError, InvalidArgumentError, NotFoundError
from keel.store import LineageNode, ModelStateError


def test_log_model_registers_numbered_versions_with_everything_recorded(
    client: Any, register_model: Any, iris_xy: Any
) -> None:
    X, y = iris_xy
    v1 = register_model()
    v2 = register_model(metrics={"f1_macro": 0.97, "accuracy": 0.98})
    assert (v1.uri, v2.uri) == ("iris/1", "iris/2")
    roles = {f.role for f in v2.files}
    assert {"descriptor", "model", "onnx", "input_example"} <= roles
    assert all(len(f.sha256) == 64 and f.size > 0 for f in v2.files)
    assert v2.format == "skops" and v2.flavor == "sklearn"
    assert v2.metrics == {"f1_macro": 0.97, "accuracy": 0.98}
    assert [c["name"] for c in v2.signature["inputs"]] == list(X.columns)
    assert v2.signature["inputs"][0]["type"] == "double"
    assert v2.signature["outputs"]["classes"] == [0, 1, 2]
    onnx = v2.details["onnx"]
    assert onnx["kept"] and onnx["max_abs_diff"] < 1e-4 and onnx["labels_equal"]
    assert v2.details["trusted_types"] is not None
    model = keel.models.load("iris/2")
    assert list(model.predict(X.head(3))) == list(y.head(3))
    assert keel.models.get("iris@latest").version == 2
    # The run -> model_version edge is written at registration.
    up = client.store.lineage.upstream(v2.lineage_node(), max_depth=1)
    assert [(e.source.kind, e.relation) for e in up.edges] == [("run", "produced")]


def test_register_records_model_card_and_training_datasets(client: Any, iris_xy: Any) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris_xy
    with keel.start_run(experiment="iris") as run:
        keel.log_input(LineageNode("dataset_version", "iris-ds/1", "iris v1"), "trained_on")
        keel.log_input(LineageNode("dataset_version", "iris-holdout/1"), "evaluated_on")
        keel.log_text("# Model card", "model_card.md")
        keel.log_metric("accuracy", 0.9)
        keel.sklearn.log_model(DecisionTreeClassifier().fit(X, y), input_example=X.head(3))
    v = keel.models.register(run.id, "tree")
    assert v.datasets == ("iris-ds/1",)
    assert v.details["evaluated_on"] == ["iris-holdout/1"]
    assert v.file("model_card") is not None and v.file("model_card").path == "model_card.md"
    # keel.sklearn's descriptor has no signature: it is inferred from the example + classes.
    assert [c["name"] for c in v.signature["inputs"]] == list(X.columns)
    assert v.signature["outputs"]["classes"] == [0, 1, 2]
    assert keel.models.load("tree@latest").predict(X.head(1))[0] == y.iloc[0]
    graph = keel.models.lineage("tree/1")
    kinds = {n.kind for n in graph.upstream.nodes}
    assert {"dataset_version", "run", "model_version"} <= kinds
    assert graph.to_dict()["model"] == "tree/1"


def test_register_without_a_logged_model_says_what_to_do(client: Any) -> None:
    with keel.start_run(experiment="iris") as run:
        keel.log_text("x", "notes.txt")
    with pytest.raises(NotFoundError, match="no model under 'model'.*log one first"):
        keel.models.register(run.id, "iris")
    assert client.store.registry.list_models() == []


def test_log_model_outside_a_run_is_refused(client: Any, iris_xy: Any) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris_xy
    with pytest.raises(InvalidArgumentError, match="needs a run"):
        keel.log_model(DecisionTreeClassifier().fit(X, y), name="iris")


@pytest.mark.parametrize("bad", ["iris", "iris/0", "iris/x", "@champion", "ir is/1", "iris@"])
def test_malformed_uris_are_refused(client: Any, bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="model"):
        keel.models.get(bad)


def test_unknown_model_version_and_alias_list_what_exists(client: Any, register_model: Any) -> None:
    register_model()
    register_model()
    with pytest.raises(NotFoundError, match=r"model 'irsi' does not exist; did you mean iris\?"):
        keel.models.load("irsi/1")
    with pytest.raises(NotFoundError, match="has no version 7; versions are: 1, 2"):
        keel.models.load("iris/7")
    with pytest.raises(NotFoundError, match="has no alias 'champion'; it has no aliases yet"):
        keel.models.load("iris@champion")
    keel.models.promote("iris", 1, to="staging", policy=None)
    with pytest.raises(NotFoundError, match="its aliases are: staging"):
        keel.models.load("iris@champion")


def test_tampered_file_is_refused_naming_it(client: Any, register_model: Any) -> None:
    v = register_model()
    record = v.file("model")
    path = client.artifacts._object_path(record.sha256)
    with open(path, "r+b") as fh:  # flip one byte of the stored skops file
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ArtifactCorruptedError, match=r"file 'model/model.skops' of model iris/1"):
        keel.models.load("iris/1")


def test_skops_needing_unrecorded_types_is_refused(client: Any, iris_xy: Any) -> None:
    """A descriptor whose trusted list was emptied (then re-registered) cannot load the file.

    A forest's trees are a type skops does not trust by default, so saving records it;
    the same bytes registered with an empty list must be refused, not loaded.
    """
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris_xy
    with keel.start_run(experiment="iris"):
        honest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
        info = keel.log_model(honest, name="honest", onnx=False)
    assert info.descriptor["trusted_types"] == ["sklearn.tree._tree.Tree"]
    assert keel.models.load("honest/1").predict(X.head(2)).shape == (2,)
    with keel.start_run(experiment="iris") as run:
        forged = keel.log_model(RandomForestClassifier(n_estimators=3).fit(X, y), onnx=False)
        keel.log_dict(dict(forged.descriptor, trusted_types=[]), "model/keel-model.json")
    keel.models.register(run.id, "forged")
    with pytest.raises(InvalidArgumentError, match="not recorded when it was saved"):
        keel.models.load("forged/1")


def test_archived_versions_cannot_be_served_or_promoted(client: Any, register_model: Any) -> None:
    register_model()
    register_model()
    keel.models.promote("iris", 2, to="champion", policy=None)
    with pytest.raises(ModelStateError, match="holds alias champion"):
        keel.models.archive("iris/2")
    v = keel.models.archive("iris/1", reason="superseded")
    assert v.status.value == "ARCHIVED"
    with pytest.raises(ModelStateError, match="archived"):
        keel.models.load("iris/1")
    with pytest.raises(ModelStateError, match="archived"):
        keel.models.promote("iris", 1, to="challenger", policy=None)
    events = [e.action for e in keel.governance.list_events("iris/1")]
    assert "model_version.archive" in events
    assert keel.governance.verify().ok


def test_pickle_is_refused_unless_allowed_and_then_audited(client: Any, iris_xy: Any) -> None:
    from sklearn.tree import DecisionTreeClassifier

    from keel.registry import UnsafeFormatError

    X, y = iris_xy
    with keel.start_run(experiment="iris"):
        keel.log_model(DecisionTreeClassifier().fit(X, y), name="pkl", format="pickle")
    with pytest.raises(UnsafeFormatError, match="pickle.*allow_pickle=True"):
        keel.models.load("pkl/1")
    assert not any(
        e.action == "model_version.load_pickle" for e in keel.governance.list_events("pkl")
    )
    model = keel.models.load("pkl/1", allow_pickle=True)
    assert model.predict(X.head(1))[0] == y.iloc[0]
    loads = [
        e for e in keel.governance.list_events("pkl") if e.action == "model_version.load_pickle"
    ]
    assert len(loads) == 1 and loads[0].reason == "allow_pickle=True"


def test_descriptor_is_json_with_library_versions(client: Any, register_model: Any) -> None:
    v = register_model()
    data = client.artifacts.get_bytes(v.file("descriptor").sha256)
    descriptor = json.loads(data)
    assert descriptor["format"] == "skops"
    assert "scikit-learn" in descriptor["library_versions"]
