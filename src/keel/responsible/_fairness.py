"""Fairness: metrics by sensitive group (fairlearn MetricFrame) and optional mitigation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.errors import InvalidArgumentError

__all__ = ["MITIGATIONS", "FairnessReport", "assess_fairness", "mitigate", "parse_mitigation"]

MITIGATIONS = ("threshold_optimizer", "exponentiated_gradient")
CONSTRAINTS = ("demographic_parity", "equalized_odds")


@dataclass
class FairnessReport:
    """Group metrics and disparity measures of one set of predictions.

    Attributes:
        sensitive_features: the columns groups are formed from.
        positive_label: the class counted as the favourable outcome (binary tasks).
        metrics: ``demographic_parity_difference``, ``demographic_parity_ratio``,
            ``equalized_odds_difference`` (binary tasks), and the largest accuracy gap.
        by_group: metric name -> {group -> value}.
    """

    sensitive_features: list[str]
    positive_label: Any
    metrics: dict[str, float]
    by_group: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON artifacts and the model card."""
        return {
            "sensitive_features": self.sensitive_features,
            "positive_label": _plain(self.positive_label),
            "metrics": self.metrics,
            "by_group": self.by_group,
        }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _group_key(key: Any) -> str:
    if isinstance(key, tuple):
        return "|".join(str(k) for k in key)
    return str(key)


def assess_fairness(y_true: Any, y_pred: Any, sensitive: Any, classes: Any) -> FairnessReport:
    """Fairness of predictions across the groups of ``sensitive`` (a DataFrame).

    For binary classification the positive label is ``classes[1]`` (the larger label,
    as scikit-learn orders them).
    """
    import numpy as np
    from fairlearn import metrics as fm
    from sklearn.metrics import accuracy_score

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    binary = len(classes) == 2
    metric_fns: dict[str, Any] = {"accuracy": accuracy_score, "count": fm.count}
    positive = classes[1] if binary else None
    yt, yp = y_true, y_pred
    if binary:
        yt = (y_true == positive).astype(int)
        yp = (y_pred == positive).astype(int)
        metric_fns.update(
            {
                "selection_rate": fm.selection_rate,
                "true_positive_rate": fm.true_positive_rate,
                "false_positive_rate": fm.false_positive_rate,
            }
        )
    frame = fm.MetricFrame(metrics=metric_fns, y_true=yt, y_pred=yp, sensitive_features=sensitive)
    by_group: dict[str, dict[str, float]] = {}
    for metric in frame.by_group.columns:
        by_group[str(metric)] = {_group_key(k): float(v) for k, v in frame.by_group[metric].items()}
    diffs = frame.difference(method="between_groups")
    metrics: dict[str, float] = {"accuracy_difference": float(diffs["accuracy"])}
    if binary:
        metrics["demographic_parity_difference"] = float(
            fm.demographic_parity_difference(yt, yp, sensitive_features=sensitive)
        )
        ratio = float(fm.demographic_parity_ratio(yt, yp, sensitive_features=sensitive))
        if math.isfinite(ratio):
            metrics["demographic_parity_ratio"] = ratio
        metrics["equalized_odds_difference"] = float(
            fm.equalized_odds_difference(yt, yp, sensitive_features=sensitive)
        )
    names = [str(c) for c in getattr(sensitive, "columns", [getattr(sensitive, "name", "group")])]
    return FairnessReport(names, positive, metrics, by_group)


def parse_mitigation(mitigation: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate ``mitigation=``: a method name or ``{"method": ..., "constraint": ...}``.

    Raises:
        InvalidArgumentError: unknown method, constraint or key.
    """
    if mitigation is None:
        return None
    spec = {"method": mitigation} if isinstance(mitigation, str) else dict(mitigation)
    unknown = set(spec) - {"method", "constraint"}
    if unknown:
        raise InvalidArgumentError(
            f"mitigation has unknown key(s) {', '.join(sorted(unknown))}; use 'method' and "
            "'constraint'"
        )
    if spec.get("method") not in MITIGATIONS:
        raise InvalidArgumentError(
            f"mitigation method {spec.get('method')!r} is unknown; use one of: "
            f"{', '.join(MITIGATIONS)}"
        )
    spec.setdefault("constraint", "demographic_parity")
    if spec["constraint"] not in CONSTRAINTS:
        raise InvalidArgumentError(
            f"mitigation constraint {spec['constraint']!r} is unknown; use one of: "
            f"{', '.join(CONSTRAINTS)}"
        )
    return spec


class MitigatedModel:
    """A fairness-mitigated predictor: needs the sensitive features at prediction time."""

    def __init__(self, mitigator: Any, prep: Any, classes: Any) -> None:
        self.mitigator = mitigator
        self.prep = prep
        self.classes_ = classes

    def predict(self, X: Any, sensitive_features: Any) -> Any:
        """Labels (in the original label space) for ``X`` given each row's groups."""
        import numpy as np

        Xt = self.prep.transform(X) if self.prep is not None else X
        if hasattr(self.mitigator, "predictors_"):  # ExponentiatedGradient: a randomised mix
            out = self.mitigator.predict(Xt, random_state=0)
        else:
            out = self.mitigator.predict(Xt, sensitive_features=sensitive_features, random_state=0)
        return np.where(np.asarray(out) == 1, self.classes_[1], self.classes_[0])


def mitigate(
    spec: Mapping[str, Any], model: Any, X: Any, y: Any, sensitive: Any, classes: Any
) -> MitigatedModel:
    """Fit the mitigation on the training data.

    ``threshold_optimizer`` post-processes the fitted ``model`` (group-specific
    thresholds); ``exponentiated_gradient`` retrains a clone of the final estimator
    under the constraint (the pipeline's preprocessing is fitted once and kept).

    Raises:
        InvalidArgumentError: the task is not binary classification.
    """
    import numpy as np
    from sklearn.base import clone

    if len(classes) != 2:
        raise InvalidArgumentError(
            f"fairness mitigation needs a binary target; this one has {len(classes)} classes"
        )
    y_bin = (np.asarray(y) == classes[1]).astype(int)
    if spec["method"] == "threshold_optimizer":
        from fairlearn.postprocessing import ThresholdOptimizer

        objective = (
            "accuracy_score"
            if spec["constraint"] == "demographic_parity"
            else ("balanced_accuracy_score")
        )
        opt = ThresholdOptimizer(
            estimator=_proba_adapter(model),
            constraints=spec["constraint"],
            objective=objective,
            prefit=True,
            predict_method="predict_proba",
        )
        opt.fit(X, y_bin, sensitive_features=sensitive)
        return MitigatedModel(opt, None, classes)
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

    steps = getattr(model, "steps", None)
    prep = None
    final = model
    Xt = X
    if isinstance(steps, list) and len(steps) > 1:
        from sklearn.pipeline import Pipeline

        prep = Pipeline([(n, clone(s)) for n, s in steps[:-1]]).fit(X, y)
        Xt = prep.transform(X)
        final = steps[-1][1]
    constraint = (
        DemographicParity() if spec["constraint"] == "demographic_parity" else (EqualizedOdds())
    )
    eg = ExponentiatedGradient(clone(final), constraints=constraint, max_iter=30)
    with warnings.catch_warnings():
        # fairlearn 0.13 grows and recasts Series in ways pandas 3 deprecates
        import pandas as pd

        category = getattr(pd.errors, "Pandas4Warning", FutureWarning)
        warnings.simplefilter("ignore", category)
        eg.fit(Xt, y_bin, sensitive_features=sensitive)
    return MitigatedModel(eg, prep, classes)


def _proba_adapter(model: Any) -> Any:
    """Wrap a prefit model for ThresholdOptimizer: probabilities of the positive class in
    column 1 and labels 0/1, whatever the original label values."""
    from sklearn.base import BaseEstimator

    class ProbaAdapter(BaseEstimator):  # type: ignore[misc]
        def __init__(self, model: Any = None) -> None:
            self.model = model

        def fit(self, X: Any, y: Any, **kwargs: Any) -> ProbaAdapter:  # prefit: never refit
            return self

        def predict(self, X: Any) -> Any:
            return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

        def predict_proba(self, X: Any) -> Any:
            return self.model.predict_proba(X)

        def __sklearn_is_fitted__(self) -> bool:
            return True

    return ProbaAdapter(model)
