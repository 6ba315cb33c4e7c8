"""Check every input of ``keel.train`` and turn it into a plan, before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.training._errors import TrainingInputError

__all__ = ["TrainRequest", "TrainingPlan", "make_plan"]


@dataclass(frozen=True)
class TrainRequest:
    """The arguments of one ``keel.train`` call, as given (see :func:`keel.train`)."""

    model: Any
    data: Any
    target: str | None = None
    features: Sequence[str] | None = None
    task: str = "auto"
    cv: Any = 5
    search: Mapping[str, Any] | None = None
    sensitive_features: str | Sequence[str] | None = None
    privacy: Mapping[str, Any] | None = None
    test_data: Any = None
    experiment: str | None = None
    run_name: str | None = None
    evaluation: bool | Sequence[str] = True
    intended_use: str | Mapping[str, Any] | None = None
    metric: str | None = None
    mitigation: str | Mapping[str, Any] | None = None
    validation_curve: str | Mapping[str, Any] | None = None
    dataset_name: str | None = None
    tags: Mapping[str, Any] | None = None
    log_model: bool = True


@dataclass
class TrainingPlan:
    """Validated inputs of one training run."""

    model: Any
    task: str
    train: Any  # PreparedData
    test: Any  # PreparedData | None
    splitter: Any
    splits: list[tuple[Any, Any]] | None
    metric: str
    metric_names: list[str]
    evaluate: bool
    search: Any  # SearchConfig | None
    privacy: Any  # PrivacyConfig | None
    mitigation: dict[str, Any] | None
    validation_curve: dict[str, Any] | None
    classes: list[Any] | None
    experiment: str
    run_name: str | None
    intended_use: Any
    dataset_name: str
    test_dataset_name: str
    tags: dict[str, Any] = field(default_factory=dict)
    log_model: bool = True


def _check_param_names(model: Any, names: Sequence[str], what: str) -> None:
    import difflib

    valid = list(model.get_params(deep=True))
    for name in names:
        if name not in valid:
            near = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
            hint = (
                f"; did you mean {', '.join(map(repr, near))}?"
                if near
                else (f"; it has: {', '.join(valid[:25])}")
            )
            raise TrainingInputError(
                f"{what} {name!r} is not a parameter of {type(model).__name__}{hint}"
            )


def _validation_curve_spec(spec: Any, model: Any, search: Any) -> dict[str, Any] | None:
    if spec is None or spec is False:
        return None
    if isinstance(spec, str):
        spec = {"param": spec}
    if not isinstance(spec, Mapping) or "param" not in spec or set(spec) - {"param", "values"}:
        raise TrainingInputError(
            "validation_curve must be a parameter name or {'param': name, 'values': [...]}; "
            f"got {spec!r}"
        )
    _check_param_names(model, [spec["param"]], "validation_curve parameter")
    values = spec.get("values")
    if values is None:
        space = search.space if search is not None else {}
        if spec["param"] not in space:
            raise TrainingInputError(
                f"validation_curve for {spec['param']!r} needs 'values' (it is not in the "
                "search space to take them from)"
            )
        values = curve_values(space[spec["param"]])
    if not isinstance(values, list | tuple) or len(values) < 2:
        raise TrainingInputError(
            f"validation_curve values must be a list of at least 2 values; got {values!r}"
        )
    return {"param": spec["param"], "values": list(values)}


def curve_values(spec: Any, n: int = 6) -> list[Any]:
    """About ``n`` values spread over one search-space parameter."""
    import numpy as np

    from keel.training._space import CategoricalParam, FloatParam, IntParam, LogParam

    if isinstance(spec, CategoricalParam):
        return list(spec.choices)
    log = isinstance(spec, LogParam) or bool(getattr(spec, "log", False))
    points = np.geomspace(spec.low, spec.high, n) if log else np.linspace(spec.low, spec.high, n)
    if isinstance(spec, IntParam):
        return sorted({round(p) for p in points})
    if isinstance(spec, FloatParam | LogParam):
        return [float(p) for p in points]
    return []  # pragma: no cover


def make_plan(request: TrainRequest) -> TrainingPlan:
    """Validate everything; raise :class:`TrainingInputError` (or a subclass of
    ``InvalidArgumentError``) on the first problem. Writes nothing."""
    import os

    from keel.training._estimators import infer_task
    from keel.training._inputs import load_frame

    model = _checked_model(request.model)
    task = infer_task(model, request.task, request.target is not None)
    frame, dataset = load_frame(request.data, "data")
    test_source = None
    if request.test_data is not None:
        test_source = load_frame(request.test_data, "test_data")
    privacy = _privacy_config(request.privacy, model)
    search = _search_config(request.search, model)
    if task not in _SUPERVISED and request.sensitive_features is not None:
        raise TrainingInputError(
            f"sensitive_features needs a classification or regression task; this is {task}"
        )
    train, test = _prepared_data(request, model, task, (frame, dataset), test_source)
    classes = (
        sorted(train.y.unique().tolist())
        if task == "classification" and train.y is not None
        else None
    )
    primary, names, evaluate = _metric_choice(request, task, search)
    splitter, splits = _cv_splits(request.cv, task, train)
    mitigation = _mitigation_spec(request, task, classes)
    curve = _validation_curve_spec(request.validation_curve, model, search)
    exp = request.experiment or os.environ.get("KEEL_EXPERIMENT") or "default"
    name = request.dataset_name
    return TrainingPlan(
        model=model,
        task=task,
        train=train,
        test=test,
        splitter=splitter,
        splits=splits,
        metric=primary,
        metric_names=names,
        evaluate=evaluate,
        search=search,
        privacy=privacy,
        mitigation=mitigation,
        validation_curve=curve,
        classes=classes,
        experiment=exp,
        run_name=request.run_name,
        intended_use=request.intended_use,
        dataset_name=name or f"{exp}-train",
        test_dataset_name=f"{name or exp}-test",
        tags=dict(request.tags or {}),
        log_model=request.log_model,
    )


_SUPERVISED = ("classification", "regression")


def _checked_model(model: Any) -> Any:
    """An unfitted clone of ``model``, refused unless it follows the scikit-learn API."""
    from sklearn.base import clone

    if not hasattr(model, "fit") or not hasattr(model, "get_params"):
        raise TrainingInputError(
            f"model must be a scikit-learn-API estimator (fit/get_params); got "
            f"{type(model).__name__}"
        )
    try:
        return clone(model)
    except Exception as exc:
        raise TrainingInputError(
            f"model {type(model).__name__} cannot be cloned ({exc}); keel.train needs an "
            "unfitted scikit-learn-API estimator whose __init__ only stores its arguments"
        ) from None


def _privacy_config(privacy: Any, model: Any) -> Any:
    if privacy is None:
        return None
    from keel.responsible import check_private, parse_privacy

    config = parse_privacy(privacy)
    check_private(model)
    return config


def _search_config(search: Any, model: Any) -> Any:
    if search is None:
        return None
    from keel.training._space import parse_search

    config = parse_search(search)
    _check_param_names(model, list(config.space), "search-space parameter")
    return config


def _prepared_data(
    request: TrainRequest,
    model: Any,
    task: str,
    source: tuple[Any, Any],
    test_source: tuple[Any, Any] | None,
) -> tuple[Any, Any]:
    """Training (and test) features and target, checked; the test split uses the
    training features."""
    from keel.training._cv import group_column_of
    from keel.training._inputs import prepare

    frame, dataset = source
    train = prepare(
        frame,
        target=request.target,
        features=request.features,
        task=task,
        model=model,
        sensitive_features=request.sensitive_features,
        group_column=group_column_of(request.cv),
        label="data",
    )
    train.dataset = dataset
    if test_source is None:
        return train, None
    test_frame, test_dataset = test_source
    test = prepare(
        test_frame,
        target=request.target,
        features=train.features,
        task=task,
        model=model,
        sensitive_features=request.sensitive_features,
        label="test_data",
    )
    test.dataset = test_dataset
    return train, test


def _metric_choice(request: TrainRequest, task: str, search: Any) -> tuple[str, list[str], bool]:
    """The metric to optimise, the metrics to report, and whether to evaluate fully."""
    from keel.training._metrics import METRICS, check_metrics, default_metric

    metric, evaluation = request.metric, request.evaluation
    primary = metric or (search.metric if search else None) or default_metric(task)
    if task == "decomposition":
        if metric is not None or not isinstance(evaluation, bool):
            raise TrainingInputError(
                "a decomposition (PCA) has no metrics to choose; it logs explained variance"
            )
        primary = ""
    else:
        check_metrics([primary], task)
    if search is not None and search.metric is not None:
        check_metrics([search.metric], task, "search metric")
    if isinstance(evaluation, bool):
        evaluate = evaluation
        names = [n for n, s in METRICS.items() if s.task == task] if evaluation else []
    else:
        if isinstance(evaluation, str) or not isinstance(evaluation, Sequence):
            raise TrainingInputError(
                f"evaluation must be True, False or a list of metric names; got {evaluation!r}"
            )
        evaluate = True
        names = check_metrics(list(evaluation), task, "evaluation metric")
    if primary and primary not in names:
        names = [primary, *names]
    return primary, names, evaluate


def _cv_splits(cv: Any, task: str, train: Any) -> tuple[Any, list[tuple[Any, Any]] | None]:
    """The splitter and its folds (computed once); none for unsupervised tasks."""
    from keel.training._cv import build_splitter, make_splits

    if task not in _SUPERVISED:
        return None, None
    splitter = build_splitter(cv, task, len(train.X), train.y, train.groups)
    if splitter is None:
        return None, None
    splits = make_splits(splitter, train.X, train.y, train.groups)
    if task == "classification" and train.y is not None:
        for k, (tr, _) in enumerate(splits):
            if train.y.iloc[tr].nunique() < 2:
                raise TrainingInputError(
                    f"cv fold {k} has a single class in its training part; use a "
                    "stratified split or fewer folds"
                )
    return splitter, splits


def _mitigation_spec(
    request: TrainRequest, task: str, classes: list[Any] | None
) -> dict[str, Any] | None:
    from keel.responsible import parse_mitigation

    spec = parse_mitigation(request.mitigation)
    if spec is not None:
        if request.sensitive_features is None:
            raise TrainingInputError("mitigation needs sensitive_features=[...] to mitigate over")
        if task != "classification" or len(classes or []) != 2:
            raise TrainingInputError("fairness mitigation needs a binary classification target")
    return spec
