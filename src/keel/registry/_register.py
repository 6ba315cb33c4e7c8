"""Logging a model to a run and registering it as a numbered ModelVersion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from keel.context import Context, current_context
from keel.errors import InvalidArgumentError, NotFoundError
from keel.registry._formats import serialize
from keel.registry._onnx import DEFAULT_TOLERANCE, export_onnx
from keel.registry._signature import example_to_frame, example_to_json, infer_signature
from keel.store import LineageEdge, LineageNode, ModelFile, ModelVersion, ModelVersionDraft
from keel.tracking import (
    flush_queued_metrics,
    list_run_artifacts,
    read_run_artifact,
    resolve_run_id,
    write_run_artifact,
    write_run_json,
)

__all__ = ["DESCRIPTOR", "LoggedModel", "log_model", "register"]

#: the descriptor file of a logged model (shared with keel.sklearn.log_model)
DESCRIPTOR = "keel-model.json"
_LIBRARIES = ("scikit-learn", "skops", "xgboost", "lightgbm", "torch", "numpy", "keel")


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """A model written to a run: where, its descriptor, and the version when registered."""

    run_id: str
    artifact_path: str
    descriptor: dict[str, Any]
    version: ModelVersion | None = None


def _library_versions(flavor: str) -> dict[str, str]:
    from importlib import metadata

    wanted = {
        "sklearn": ("scikit-learn", "skops"),
        "xgboost": ("xgboost",),
        "lightgbm": ("lightgbm",),
        "torch": ("torch",),
    }.get(flavor, ())
    versions = {}
    for pkg in (*wanted, "numpy", "keel"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return versions


def log_model(
    model: Any,
    name: str | None = None,
    artifact_path: str = "model",
    input_example: Any = None,
    signature: dict[str, Any] | None = None,
    *,
    format: str | None = None,
    init_kwargs: dict[str, Any] | None = None,
    onnx: bool = True,
    onnx_tolerance: float = DEFAULT_TOLERANCE,
    run_id: str | None = None,
    context: Context | None = None,
) -> LoggedModel:
    """Log a fitted model to the active run in a safe format, and register it when named.

    Writes under ``<artifact_path>/``: the model file (skops, XGBoost JSON, LightGBM text
    or a torch state dict), ``model.onnx`` when an ONNX export reproduces the model on
    the input example, ``input_example.json`` and the descriptor ``keel-model.json``
    (format, trusted types, signature, ONNX parity, library versions).

    Args:
        model: a fitted scikit-learn-API estimator, XGBoost/LightGBM model or torch module.
        name: register the logged model as the next version of this model name.
        artifact_path: folder inside the run's artifacts.
        input_example: a few rows the model predicts on (DataFrame or array); used for
            the signature, the ONNX parity check and latency gates.
        signature: the signature, when not inferred (see :func:`infer_signature`).
        format: force a format (``"pickle"`` for objects no safe format can hold).
        init_kwargs: constructor arguments of a torch module (read from its attributes
            when not given).
        onnx: try an ONNX export.
        onnx_tolerance: the largest absolute difference at which the export is kept.
        run_id: log to this run instead of the active one.
        context: where the run is (:func:`keel.context.current_context` by default; the
            active run's own context when logging to it).

    Returns:
        A :class:`LoggedModel` (with ``version`` set when ``name`` was given).

    Example::

        >>> with keel.start_run(experiment="iris"):
        ...     keel.log_model(RandomForestClassifier().fit(X, y), name="iris",
        ...                    input_example=X.head(5))
    """
    if run_id is None:
        from keel.tracking import active_run

        active = active_run()
        if active is None:
            raise InvalidArgumentError(
                "log_model needs a run: call it inside `with keel.start_run():` or pass run_id"
            )
        run_id = active.id
        ctx = context or active.client.context
    else:
        ctx = context or current_context()
    base = artifact_path.strip("/")
    if not base:
        raise InvalidArgumentError("artifact_path must name a folder such as 'model'")
    if name is not None:
        from keel.store._registry import check_model_name

        check_model_name(name)
    saved = serialize(model, format, init_kwargs)
    if signature is None:
        if input_example is not None:
            signature = infer_signature(input_example, model)
        else:
            names = getattr(model, "feature_names_in_", None)
            signature = {
                "inputs": [
                    {"name": str(n), "type": "unknown"}
                    for n in (names if names is not None else [])
                ],
                "outputs": infer_signature([[0.0]], model)["outputs"],
            }
    descriptor: dict[str, Any] = {
        "format": saved.format,
        "flavor": saved.flavor,
        "file": saved.file,
        **saved.fields,
        "library_versions": _library_versions(saved.flavor),
        "signature": signature,
    }
    onnx_bytes = None
    if onnx and saved.flavor != "pickle":
        onnx_bytes, descriptor["onnx"] = export_onnx(
            model, saved.flavor, input_example, onnx_tolerance
        )
    write_run_artifact(ctx, run_id, f"{base}/{saved.file}", saved.data)
    if onnx_bytes is not None:
        write_run_artifact(ctx, run_id, f"{base}/model.onnx", onnx_bytes)
    if input_example is not None:
        write_run_json(ctx, run_id, f"{base}/input_example.json", example_to_json(input_example))
        descriptor["input_example"] = "input_example.json"
    write_run_json(ctx, run_id, f"{base}/{DESCRIPTOR}", descriptor)
    version = register(run_id, name, artifact_path=base, context=ctx) if name else None
    return LoggedModel(run_id, base, descriptor, version)


def _roles(base: str, descriptor: dict[str, Any]) -> dict[str, str]:
    roles = {f"{base}/{DESCRIPTOR}": "descriptor", f"{base}/{descriptor.get('file')}": "model"}
    if descriptor.get("input_example"):
        roles[f"{base}/{descriptor['input_example']}"] = "input_example"
    onnx = descriptor.get("onnx") or {}
    if onnx.get("kept") and onnx.get("file"):
        roles[f"{base}/{onnx['file']}"] = "onnx"
    return roles


def register(
    run_id: str,
    name: str,
    artifact_path: str = "model",
    *,
    description: str = "",
    context: Context | None = None,
) -> ModelVersion:
    """Register the model a run logged under ``artifact_path`` as the next version of ``name``.

    The version records every file with its sha256, the signature, the input example,
    the run's metrics, the model card (when the run has one) and the dataset versions
    the run was trained on (from lineage); a ``run -> model_version`` lineage edge and
    an audit event are written.

    Args:
        run_id: the run (its id or a unique id prefix).
        name: the model name.
        artifact_path: the folder the run logged the model under.
        description: free text stored with the version.
        context: where the run is and the model goes (:func:`keel.context.current_context`
            by default).

    Raises:
        NotFoundError: the run has no model under ``artifact_path``.

    Example::

        >>> v = keel.models.register(run.id, "iris")
        >>> v.uri
        'iris/1'
    """
    from keel.store._registry import check_model_name

    ctx = context or current_context()
    check_model_name(name)
    run_id = resolve_run_id(ctx, run_id)
    flush_queued_metrics(run_id)  # values logged a moment ago belong in the version's metrics
    run = ctx.store.tracking.get_run(run_id)
    base = artifact_path.strip("/")
    artifacts = list_run_artifacts(ctx, run.id)
    by_path = {a.path: a for a in artifacts}
    descriptor, files = _model_files(ctx, run.id, base, artifacts)
    trained_on = _run_datasets(ctx, run.id, "trained_on")
    details = {k: v for k, v in descriptor.items() if k not in ("signature",)}
    details["artifact_path"] = base
    details["evaluated_on"] = _run_datasets(ctx, run.id, "evaluated_on")
    details["run_artifacts"] = sorted(by_path)
    draft = ModelVersionDraft(
        name=name,
        run_id=run.id,
        flavor=descriptor.get("flavor") or "sklearn",
        format=descriptor["format"],
        files=tuple(files),
        signature=_signature(ctx, run.id, base, descriptor),
        metrics=dict(run.metrics),
        datasets=tuple(trained_on),
        details=details,
        description=description,
    )
    version = ctx.store.registry.create_version(draft, ctx.actor)
    ctx.store.lineage.add_edges(
        [LineageEdge(LineageNode("run", run.id, run.name), version.lineage_node(), "produced")]
    )
    registered: ModelVersion = version
    return registered


def _model_files(
    ctx: Context, run_id: str, base: str, artifacts: list[Any]
) -> tuple[dict[str, Any], list[ModelFile]]:
    """The descriptor of the model a run logged under ``base``, and every file to record
    (model files with their roles, then the run's model cards)."""
    by_path = {a.path: a for a in artifacts}
    if f"{base}/{DESCRIPTOR}" not in by_path:
        logged = sorted(
            {a.path.rsplit("/", 1)[0] for a in artifacts if a.path.endswith("/" + DESCRIPTOR)}
        )
        raise NotFoundError(
            f"run {run_id} has no model under {base!r}; "
            + (
                f"it has models under: {', '.join(logged)}"
                if logged
                else "log one first with keel.log_model(model) inside the run"
            )
        )
    descriptor: dict[str, Any] = json.loads(read_run_artifact(ctx, run_id, f"{base}/{DESCRIPTOR}"))
    roles = _roles(base, descriptor)
    missing = [p for p in roles if p not in by_path]
    if missing:
        raise NotFoundError(
            f"the model under {base!r} in run {run_id} is incomplete: {', '.join(missing)} "
            "is missing; log the model again"
        )
    files = [ModelFile(p, by_path[p].sha256, by_path[p].size, role) for p, role in roles.items()]
    files += [
        ModelFile(a.path, a.sha256, a.size, "model_card")
        for a in artifacts
        if a.path.rsplit("/", 1)[-1] in ("model_card.md", "model_card.json") and a.path not in roles
    ]
    return descriptor, files


def _signature(ctx: Context, run_id: str, base: str, descriptor: dict[str, Any]) -> dict[str, Any]:
    """The descriptor's signature, or one inferred from its input example and classes
    (models logged by ``keel.sklearn.log_model`` record only those)."""
    signature: dict[str, Any] | None = descriptor.get("signature")
    if not signature and descriptor.get("input_example"):
        example = example_to_frame(
            json.loads(read_run_artifact(ctx, run_id, f"{base}/{descriptor['input_example']}"))
        )
        signature = infer_signature(example)
        if descriptor.get("classes") is not None:
            signature["outputs"] = {"type": "label", "classes": descriptor["classes"]}
    return signature or {}


def _run_datasets(ctx: Context, run_id: str, relation: str) -> list[str]:
    """Ids of the dataset versions linked to the run by ``relation`` in lineage."""
    graph = ctx.store.lineage.upstream(LineageNode("run", run_id), max_depth=1)
    return sorted(
        {
            e.source.id
            for e in graph.edges
            if e.source.kind == "dataset_version" and e.relation == relation
        }
    )
