"""The wire codec: every entity survives a JSON round trip, and bad data is named."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import pytest

from keel.errors import InvalidArgumentError
from keel.store import (
    ArtifactRecord,
    AuditEvent,
    CheckResult,
    DatasetVersionRecord,
    GateResult,
    LineageEdge,
    LineageGraph,
    LineageNode,
    Metric,
    ModelFile,
    ModelVersion,
    ModelVersionStatus,
    Run,
    RunStatus,
    StepOutput,
)
from keel.store._wire import from_wire, to_wire


def _round_trip(tp: object, value: object) -> object:
    return from_wire(tp, json.loads(json.dumps(to_wire(value), allow_nan=False)))


def test_non_finite_floats_travel_as_strings() -> None:
    metrics = [Metric("m", v, 0, 1) for v in (math.nan, math.inf, -math.inf, 0.1, -0.0)]
    back = _round_trip(list[Metric], metrics)
    assert isinstance(back, list)
    assert math.isnan(back[0].value)
    assert [m.value for m in back[1:]] == [math.inf, -math.inf, 0.1, -0.0]
    assert to_wire(math.nan) == "NaN"


def test_entities_round_trip() -> None:
    run = Run(
        "r" * 32,
        "e1",
        "name",
        RunStatus.FINISHED,
        1,
        2,
        None,
        "ana",
        None,
        {"lr": "0.1"},
        {"acc": 0.5},
        {"t": "x"},
    )
    assert _round_trip(Run, run) == run
    version = ModelVersion(
        "iris",
        3,
        "r",
        "sklearn",
        "skops",
        ModelVersionStatus.READY,
        1,
        "ana",
        (ModelFile("model.skops", "a" * 64, 10, "model"),),
        {"inputs": [1]},
        {"acc": 0.9},
        ("d1",),
        {"k": {"n": [1, 2]}},
        "desc",
    )
    assert _round_trip(ModelVersion, version) == version
    edge = LineageEdge(
        LineageNode("run", "r", "lbl"), LineageNode("model_version", "m"), "produced", 5
    )
    graph = LineageGraph(edge.source, (edge.source, edge.target), (edge,))
    assert _round_trip(LineageGraph, graph) == graph
    record = ArtifactRecord("a/b.txt", 3, "c" * 64, 9)
    assert _round_trip(ArtifactRecord, record) == record
    out = StepOutput("return", "json", "f" * 64, "h", "lbl", "json")
    assert _round_trip(StepOutput, out) == out
    gate = GateResult(
        "g",
        "iris",
        2,
        "champion",
        False,
        (CheckResult("metric", 0.8, ">= 0.9", False, "low"),),
        {"name": "p"},
        1,
        "ana",
    )
    assert _round_trip(GateResult, gate) == gate


def test_containers_and_unions() -> None:
    assert _round_trip(tuple[str, bool], ("a", True)) == ("a", True)
    assert _round_trip(Mapping[str, int] | None, None) is None
    assert _round_trip(Sequence[tuple[str, Sequence[str]]], [("a", ["b"])]) == [("a", ["b"])]
    assert _round_trip(AuditEvent | None, None) is None


@pytest.mark.parametrize(
    ("tp", "data", "message"),
    [
        (Metric, {"key": "m", "value": "high", "step": 0, "timestamp": 1}, "value: expected float"),
        (Metric, {"key": "m", "value": 1.0, "step": 0}, "timestamp: this field is required"),
        (Metric, {"key": "m", "value": 1.0, "step": 0, "timestamp": 1, "x": 2}, "unknown field"),
        (RunStatus, "DONE", "not one of"),
        (int, True, "expected int"),
        (list[int], {"a": 1}, "expected"),
        (DatasetVersionRecord, [], "expected DatasetVersionRecord"),
    ],
)
def test_bad_data_names_the_field(tp: object, data: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        from_wire(tp, data)


class _Name(str):
    """A str subclass (what some libraries hand over): not the exact type."""


def test_the_fast_decoder_and_the_checked_one_agree() -> None:
    # values the compiled decoders take, and ones only the checked path accepts
    metrics = [{"key": "m", "value": v, "step": 1, "timestamp": 2} for v in (1, 0.5, "NaN")]
    back = from_wire(list[Metric], metrics)
    assert [type(m.value) for m in back] == [float, float, float]
    assert back[0] == Metric("m", 1.0, 1, 2) and math.isnan(back[2].value)
    assert from_wire(str, _Name("x")) == "x"
    assert from_wire(tuple[str, ...], ["a", "b"]) == ("a", "b")
    assert from_wire(Mapping[str, float] | None, {"a": 1}) == {"a": 1.0}
    assert from_wire(int | str, "7") == "7"


def test_a_bad_item_deep_in_a_list_is_named() -> None:
    good = {"key": "m", "value": 1.0, "step": 0, "timestamp": 1}
    bad = {**good, "step": "three"}
    with pytest.raises(InvalidArgumentError, match=r"\[2\]\.step: expected int"):
        from_wire(list[Metric], [good, good, bad])
    with pytest.raises(InvalidArgumentError, match=r"\[1\]: unknown field\(s\) extra"):
        from_wire(list[Metric], [good, {**good, "extra": 1}])
    with pytest.raises(InvalidArgumentError, match=r"params\.lr: expected str"):
        from_wire(Run, {**to_wire(_run()), "params": {"lr": 0.1}})


def _run() -> Run:
    return Run("r" * 32, "e", "n", RunStatus.RUNNING, 1, None, None, "u", None, {}, {}, {})
