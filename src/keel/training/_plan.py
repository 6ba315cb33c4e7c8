"""Check every input of ``keel.train`` and turn it into a plan, before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.training._errors import TrainingInputError

__all__ = ["TrainingPlan", "make_plan"]


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


def make_plan(
    model: Any,
    data: Any,
    *,
    target: str | None,
    features: Sequence[str] | None,
    task: str,
    cv: Any,
    search: Any,
    sensitive_features: Any,
    privacy: Any,
    test_data: Any,
    experiment: str | None,
    run_name: str | None,
    evaluation: bool | Sequence[str],
    intended_use: Any,
    metric: str | None,
    mitigation: Any,
    validation_curve: Any,
    dataset_name: str | None,
    tags: Mapping[str, Any] | None,
) -> TrainingPlan:
    """Validate everything; raise :class:`TrainingInputError` (or a subclass of
    ``InvalidArgumentError``) on the first problem. Writes nothing."""
    import os

    from sklearn.base import clone

    from keel.responsible import check_private, parse_mitigation, parse_privacy
    from keel.training._cv import build_splitter, group_column_of, make_splits
    from keel.training._estimators import infer_task
    from keel.training._inputs import load_frame, prepare
    from keel.training._metrics import METRICS, check_metrics, default_metric
    from keel.training._space import parse_search

    if not hasattr(model, "fit") or not hasattr(model, "get_params"):
        raise TrainingInputError(
            f"model must be a scikit-learn-API estimator (fit/get_params); got "
            f"{type(model).__name__}"
        )
    try:
        model = clone(model)
    except Exception as exc:
        raise TrainingInputError(
            f"model {type(model).__name__} cannot be cloned ({exc}); keel.train needs an "
            "unfitted scikit-learn-API estimator whose __init__ only stores its arguments"
        ) from None
    resolved_task = infer_task(model, task, target is not None)
    frame, dataset = load_frame(data, "data")
    test_frame, test_dataset = (None, None)
    if test_data is not None:
        test_frame, test_dataset = load_frame(test_data, "test_data")
    privacy_config = None
    if privacy is not None:
        privacy_config = parse_privacy(privacy)
        check_private(model)
    search_config = parse_search(search) if search is not None else None
    if search_config is not None:
        _check_param_names(model, list(search_config.space), "search-space parameter")
    supervised = resolved_task in ("classification", "regression")
    if not supervised and sensitive_features is not None:
        raise TrainingInputError(
            f"sensitive_features needs a classification or regression task; this is {resolved_task}"
        )
    group_col = group_column_of(cv)
    train = prepare(
        frame,
        target=target,
        features=features,
        task=resolved_task,
        model=model,
        sensitive_features=sensitive_features,
        group_column=group_col,
        label="data",
    )
    train.dataset = dataset
    test = None
    if test_frame is not None:
        test = prepare(
            test_frame,
            target=target,
            features=train.features,
            task=resolved_task,
            model=model,
            sensitive_features=sensitive_features,
            label="test_data",
        )
        test.dataset = test_dataset
    classes = (
        sorted(train.y.unique().tolist())
        if resolved_task == "classification" and train.y is not None
        else None
    )
    # metrics: the one to optimise, and the ones to report
    primary = (
        metric or (search_config.metric if search_config else None) or default_metric(resolved_task)
    )
    if resolved_task == "decomposition":
        if metric is not None or not isinstance(evaluation, bool):
            raise TrainingInputError(
                "a decomposition (PCA) has no metrics to choose; it logs explained variance"
            )
        primary = ""
    else:
        check_metrics([primary], resolved_task)
    if search_config is not None and search_config.metric is not None:
        check_metrics([search_config.metric], resolved_task, "search metric")
    if isinstance(evaluation, bool):
        evaluate = evaluation
        names = [n for n, s in METRICS.items() if s.task == resolved_task] if evaluation else []
    else:
        if isinstance(evaluation, str) or not isinstance(evaluation, Sequence):
            raise TrainingInputError(
                f"evaluation must be True, False or a list of metric names; got {evaluation!r}"
            )
        evaluate = True
        names = check_metrics(list(evaluation), resolved_task, "evaluation metric")
    if primary and primary not in names:
        names = [primary, *names]
    splitter = None
    splits = None
    if supervised:
        splitter = build_splitter(cv, resolved_task, len(train.X), train.y, train.groups)
        if splitter is not None:
            splits = make_splits(splitter, train.X, train.y, train.groups)
            y_train = train.y
            if resolved_task == "classification" and y_train is not None:
                for k, (tr, _) in enumerate(splits):
                    if y_train.iloc[tr].nunique() < 2:
                        raise TrainingInputError(
                            f"cv fold {k} has a single class in its training part; use a "
                            "stratified split or fewer folds"
                        )
    mitigation_spec = parse_mitigation(mitigation)
    if mitigation_spec is not None:
        if sensitive_features is None:
            raise TrainingInputError("mitigation needs sensitive_features=[...] to mitigate over")
        if resolved_task != "classification" or len(classes or []) != 2:
            raise TrainingInputError("fairness mitigation needs a binary classification target")
    curve = _validation_curve_spec(validation_curve, model, search_config)
    exp = experiment or os.environ.get("KEEL_EXPERIMENT") or "default"
    return TrainingPlan(
        model=model,
        task=resolved_task,
        train=train,
        test=test,
        splitter=splitter,
        splits=splits,
        metric=primary,
        metric_names=names,
        evaluate=evaluate,
        search=search_config,
        privacy=privacy_config,
        mitigation=mitigation_spec,
        validation_curve=curve,
        classes=classes,
        experiment=exp,
        run_name=run_name,
        intended_use=intended_use,
        dataset_name=dataset_name or f"{exp}-train",
        test_dataset_name=f"{dataset_name or exp}-test" if dataset_name else f"{exp}-test",
        tags=dict(tags or {}),
    )
