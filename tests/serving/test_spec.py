"""Endpoint specs: validated, strict, from a reference or YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

import keel.serving
from keel.errors import InvalidArgumentError
from keel.serving import endpoint_from_ref, load_endpoint_specs


def test_a_reference_is_an_implicit_endpoint() -> None:
    spec = endpoint_from_ref("iris@champion")
    assert spec.name == "iris" and spec.targets[0].model == "iris@champion"
    assert endpoint_from_ref("models:/iris/3").targets[0].model == "iris/3"


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "name: iris\ntargets: [{model: iris@champion}]\nbatching: {max_wait: 3}\n",
            "batching.max_wait: unknown key",
        ),
        ("name: iris\ntargets: []\n", "targets"),
        ("name: iris\ntargets: [{model: 'iris#2'}]\n", "malformed"),
        ("name: iris\ntargets: [{model: iris@a, weight: 0}]\n", "weight above 0"),
        ("name: iris\ntargets: [{model: iris@a}, {model: iris@a}]\n", "same model twice"),
        ("name: 'a b'\ntargets: [{model: iris@a}]\n", "name"),
        ("name: iris\ntargets: [{model: iris@a}\n", "line"),
    ],
)
def test_an_invalid_spec_names_the_key(tmp_path: Path, yaml: str, message: str) -> None:
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml)
    with pytest.raises(InvalidArgumentError, match=message):
        load_endpoint_specs(path)


def test_several_endpoints_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.yaml"
    path.write_text(
        "endpoints:\n  - {name: a, targets: [{model: iris@champion}]}\n"
        "  - {name: b, targets: [{model: iris/2}], batching: {enabled: false}}\n"
    )
    a, b = load_endpoint_specs(path)
    assert (a.name, b.name, b.batching.enabled) == ("a", "b", False)
    app = keel.serving.create_app(path)  # no I/O until started
    assert [s.name for s in app.specs] == ["a", "b"]


def test_the_public_surface_is_pinned() -> None:
    assert sorted(keel.serving.__all__) == [
        "BatchingSpec",
        "EndpointSpec",
        "LimitsSpec",
        "MicroBatcher",
        "ScoringResult",
        "ServingApp",
        "ShadowSpec",
        "TargetSpec",
        "create_app",
        "endpoint_from_ref",
        "endpoints",
        "load_endpoint_specs",
        "predict_file",
        "read_feedback",
        "read_prediction_log",
    ]
    assert sorted(keel.serving.endpoints.__all__) == [
        "create",
        "delete",
        "get",
        "history",
        "list",
        "log",
        "spec",
        "update",
    ]
    for name in keel.serving.endpoints.__all__:
        assert callable(getattr(keel.serving.endpoints, name))


def test_a_bare_name_is_a_stored_endpoint_and_references_are_not() -> None:
    from keel.serving._factory import endpoint_sources

    assert endpoint_sources(["iris", "adult@champion", "m/3"])[0] == "iris"
    assert [s.name for s in endpoint_sources(["adult@champion", "m/3"])] == ["adult", "m"]
    with pytest.raises(InvalidArgumentError, match="endpoint name 'bad name' is invalid"):
        endpoint_sources("bad name")
    with pytest.raises(InvalidArgumentError, match="names repeat"):
        endpoint_sources(["iris", "iris@champion"])
