"""A monitor's reference: found through lineage, sketched once, stored as artifacts.

For a model version that answered, the reference of its inputs is the dataset version
it was trained on (``ModelVersion.datasets``, written by lineage at registration). Its
:class:`~keel.monitoring.ReferenceSketch` is computed once and stored as an artifact;
the lineage edge dataset_version -[sketched_as]-> reference_sketch(sha256) says where,
so later runs (and other monitors) read the sketch and never the dataset again.

The reference of the outputs needs the model: its predictions on the reference data
(sketched), and, for a classifier with probabilities and a known target, the
calibration CBPE uses, fitted on the version's evaluation dataset when one is recorded
(a model is over-confident on its own training rows) and else on the training one.
Both are stored as one JSON artifact behind the edge
model_version -[monitor_reference]-> monitor_reference(sha256).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.errors import KeelError, NotFoundError
from keel.monitoring._cbpe import Calibration
from keel.monitoring._errors import MonitorReferenceError
from keel.monitoring._sketch import ReferenceSketch
from keel.store import LineageEdge, LineageNode

if TYPE_CHECKING:
    from keel.context import Context
    from keel.monitoring._monitor_spec import MonitorSpec
    from keel.store import ModelVersion

__all__ = ["OutputReference", "Reference", "resolve_reference"]

SKETCHED_AS = "sketched_as"
MONITOR_REFERENCE = "monitor_reference"
_FORMAT = "keel.monitor_reference"


@dataclass(frozen=True)
class OutputReference:
    """What a model's outputs looked like on its reference data.

    Attributes:
        predictions: the sketch of its predictions (one column, ``prediction``).
        task: ``classification`` or ``regression``.
        classes: the classes, for a classifier.
        calibration: CBPE's calibration (``None`` without probabilities or labels).
        reference_metrics: the metrics realised on the calibration data.
        sha256: the artifact it is stored as.
    """

    predictions: ReferenceSketch
    task: str
    classes: tuple[Any, ...] | None
    calibration: Calibration | None
    reference_metrics: dict[str, float]
    sha256: str


@dataclass(frozen=True)
class Reference:
    """The inputs' reference sketch (and its label) and, when known, the outputs'.

    Attributes:
        label: what it is (``iris-train/1``, ``sketch 3f2a9c...``).
        sketch: the sketch of the reference table.
        sketch_sha256: where the sketch is stored.
        target: the reference's label column, when known.
        outputs: the outputs' reference (``None`` when there is none).
        no_outputs: why there is none (an explicit sketch, inputs the reference lacks).
    """

    label: str
    sketch: ReferenceSketch
    sketch_sha256: str
    target: str | None
    outputs: OutputReference | None
    no_outputs: str | None = None


def _model_version(context: Context, uri: str) -> ModelVersion:
    name, _, number = uri.rpartition("/")
    try:
        return context.store.registry.get_version(name, int(number))
    except (ValueError, NotFoundError):
        raise MonitorReferenceError(
            f"the prediction log names model version {uri!r}, which the registry does not "
            "have; give the monitor an explicit reference: {dataset: NAME/N}"
        ) from None


def _target(context: Context, version: ModelVersion, given: str | None) -> str | None:
    if given:
        return given
    try:
        run = context.store.tracking.get_run(version.run_id)
    except KeelError:
        return None
    return run.params.get("target") or None


def _dataset_sketch(context: Context, dataset: Any, label: str) -> tuple[ReferenceSketch, str]:
    """The stored sketch of a dataset version; computed and stored on first need."""
    node = dataset.lineage_node()
    graph = context.store.lineage.downstream(node, max_depth=1)
    for edge in graph.edges:
        if edge.relation == SKETCHED_AS and edge.target.kind == "reference_sketch":
            sha = edge.target.id
            try:
                return ReferenceSketch.from_bytes(context.artifacts.get_bytes(sha, "sketch")), sha
            except NotFoundError:
                break  # the bytes are gone: compute it again
    sketch = ReferenceSketch.from_table(dataset.to_arrow())
    sketch = ReferenceSketch(
        sketch.num_rows, sketch.columns, sketch.max_points, sketch.max_categories, label
    )
    stored = context.artifacts.put_bytes(sketch.to_bytes())
    context.store.lineage.add_edges(
        [
            LineageEdge(
                node,
                LineageNode("reference_sketch", stored.sha256, f"sketch of {label}"),
                SKETCHED_AS,
            )
        ]
    )
    return sketch, stored.sha256


def _get_dataset(context: Context, ident: str) -> Any:
    from keel.data import get, get_by_id

    try:
        return get(ident, context=context) if "/" in ident else get_by_id(ident, context=context)
    except NotFoundError as exc:
        raise MonitorReferenceError(f"the reference dataset cannot be read: {exc}") from None


def _input_names(version: ModelVersion) -> list[str]:
    return [str(i["name"]) for i in version.signature.get("inputs", ()) if "name" in i]


def _outputs(
    context: Context,
    version: ModelVersion,
    train: Any,
    evaluation: Any | None,
    target: str | None,
) -> OutputReference:
    """Predict the reference, sketch the predictions, fit the calibration; stored once."""
    import pandas as pd

    node = version.lineage_node()
    graph = context.store.lineage.downstream(node, max_depth=1)
    for edge in graph.edges:
        if edge.relation == MONITOR_REFERENCE and edge.target.kind == MONITOR_REFERENCE:
            try:
                data = json.loads(context.artifacts.get_bytes(edge.target.id, "reference"))
            except NotFoundError:
                continue
            if data.get("dataset") == f"{train.name}/{train.version}":
                return _output_from(data, edge.target.id)
    from keel.registry import load_version

    model = load_version(version, context=context, serve=False)
    names = _input_names(version)
    frame = train.to_pandas()
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise MonitorReferenceError(
            f"the reference {train.name}/{train.version} lacks the model's input columns "
            f"{missing}, so the model cannot predict it; give a reference with them"
        )
    predictions = np.asarray(model.predict(frame[names] if names else frame))
    pred_frame = pd.DataFrame({"prediction": predictions})
    sketch = ReferenceSketch.from_table(pred_frame)
    classes = getattr(model, "classes_", None)
    task = "classification" if classes is not None else "regression"
    calibration = None
    realised: dict[str, float] = {}
    calib = evaluation if evaluation is not None else train
    if task == "classification" and hasattr(model, "predict_proba") and target:
        cal_frame = calib.to_pandas()
        if target in cal_frame.columns and all(n in cal_frame.columns for n in names):
            from keel.monitoring._cbpe import classification_metrics

            X = cal_frame[names] if names else cal_frame.drop(columns=[target])
            proba = np.asarray(model.predict_proba(X), dtype=float)
            truth = cal_frame[target].tolist()
            calibration = Calibration.fit(
                proba,
                truth,
                list(classes if classes is not None else ()),
                f"{calib.name}/{calib.version}",
            )
            realised = classification_metrics(truth, model.predict(X))
    data = {
        "format": _FORMAT,
        "format_version": 1,
        "model_version": version.uri,
        "dataset": f"{train.name}/{train.version}",
        "task": task,
        "classes": None if classes is None else [_plain(c) for c in classes],
        "predictions": sketch.to_dict(),
        "calibration": None if calibration is None else calibration.to_dict(),
        "reference_metrics": realised,
    }
    stored = context.artifacts.put_bytes(json.dumps(data, sort_keys=True).encode())
    context.store.lineage.add_edges(
        [
            LineageEdge(
                node,
                LineageNode(
                    MONITOR_REFERENCE, stored.sha256, f"monitor reference of {version.uri}"
                ),
                MONITOR_REFERENCE,
            )
        ]
    )
    return _output_from(data, stored.sha256)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _output_from(data: dict[str, Any], sha: str) -> OutputReference:
    calibration = data.get("calibration")
    classes = data.get("classes")
    return OutputReference(
        predictions=ReferenceSketch.from_dict(data["predictions"]),
        task=str(data["task"]),
        classes=None if classes is None else tuple(classes),
        calibration=None if calibration is None else Calibration.from_dict(calibration),
        reference_metrics={k: float(v) for k, v in data.get("reference_metrics", {}).items()},
        sha256=sha,
    )


def resolve_reference(context: Context, spec: MonitorSpec, model_version: str) -> Reference:
    """The reference for windows answered by ``model_version`` (``iris/3``).

    Raises:
        MonitorReferenceError: the version records no training dataset (and the spec
            names none), or the reference cannot be read.
    """
    from keel.monitoring._monitor_spec import ReferenceSpec

    version = _model_version(context, model_version)
    explicit = spec.reference if isinstance(spec.reference, ReferenceSpec) else None
    if explicit is not None and explicit.sketch is not None:
        sha = explicit.sketch
        try:
            if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha):
                raw = context.artifacts.get_bytes(sha, "reference sketch")
            else:
                from pathlib import Path

                raw = Path(sha).read_bytes()
                sha = context.artifacts.put_bytes(raw).sha256
        except (OSError, NotFoundError) as exc:
            raise MonitorReferenceError(f"the reference sketch cannot be read: {exc}") from None
        sketch = ReferenceSketch.from_bytes(raw)
        return Reference(
            f"sketch {sha[:12]}",
            sketch,
            sha,
            explicit.target,
            None,
            "an explicit reference sketch holds no predictions to compare with",
        )
    if explicit is not None and explicit.dataset is not None:
        train = _get_dataset(context, explicit.dataset)
        evaluation = None
    else:
        if not version.datasets:
            raise MonitorReferenceError(
                f"model version {version.uri} records no training dataset (it was logged "
                "without keel.train or log_input(..., 'trained_on')), so its reference cannot "
                "be found through lineage; give one: reference: {dataset: NAME/N, target: COLUMN}"
            )
        train = _get_dataset(context, sorted(version.datasets)[0])
        evaluated = list(version.details.get("evaluated_on") or [])
        evaluation = _get_dataset(context, sorted(evaluated)[0]) if evaluated else None
    label = f"{train.name}/{train.version}"
    sketch, sha = _dataset_sketch(context, train, label)
    target = _target(context, version, explicit.target if explicit else None)
    try:
        outputs = _outputs(context, version, train, evaluation, target)
    except MonitorReferenceError as exc:  # the inputs' drift still says what differs
        return Reference(label, sketch, sha, target, None, str(exc))
    return Reference(label, sketch, sha, target, outputs)
