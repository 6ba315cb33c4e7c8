"""SHAP explanations with the explainer that fits the model, and a recipe to rebuild it.

* tree models (forests, gradient boosting, XGBoost, LightGBM): ``shap.TreeExplainer``;
* linear models: ``shap.LinearExplainer`` over a background sample;
* anything else: ``shap.PermutationExplainer`` on a sampled background.

For a Pipeline the steps before the final estimator transform the data first and the
final estimator is explained on their output (named by ``get_feature_names_out``).
The recipe (explainer kind, output, feature names, background artifact) is stored as
JSON so serving can rebuild the same explainer to explain single predictions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Explanation", "build_explainer", "explain", "explainer_kind"]

_TREE_PREFIXES = (
    "RandomForest",
    "ExtraTrees",
    "GradientBoosting",
    "DecisionTree",
    "ExtraTree",
    "XGB",
    "LGBM",
    "IsolationForest",
)
_LINEAR = (
    "LogisticRegression",
    "LinearRegression",
    "Ridge",
    "RidgeClassifier",
    "Lasso",
    "ElasticNet",
    "SGDClassifier",
    "SGDRegressor",
    "LinearSVC",
    "LinearSVR",
    "BayesianRidge",
)


@dataclass
class Explanation:
    """SHAP values of a sample and what produced them."""

    kind: str
    feature_names: list[str]
    values: Any  # (n, features) or (n, features, outputs)
    data: Any  # the (transformed) rows explained
    mean_abs: dict[str, float]
    recipe: dict[str, Any] = field(default_factory=dict)

    def top_features(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` features with the largest mean |SHAP|."""
        return sorted(self.mean_abs.items(), key=lambda kv: kv[1], reverse=True)[:n]


def _split(model: Any) -> tuple[Any, Any]:
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        from sklearn.pipeline import Pipeline

        return Pipeline(steps[:-1]), steps[-1][1]
    return None, model


def _transform(prep: Any, X: Any, names: list[str]) -> tuple[Any, list[str]]:
    import numpy as np

    if prep is None:
        return np.asarray(X, dtype=float), names
    Xt = prep.transform(X)
    if hasattr(Xt, "toarray"):
        Xt = Xt.toarray()
    try:
        out_names = [str(n) for n in prep.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        out_names = [f"x{i}" for i in range(np.shape(Xt)[1])]
    return np.asarray(Xt, dtype=float), out_names


def explainer_kind(final: Any) -> str:
    """``tree``, ``linear`` or ``permutation`` for a final estimator."""
    name = type(final).__name__
    if name.startswith(_TREE_PREFIXES):
        return "tree"
    if name in _LINEAR:
        return "linear"
    return "permutation"


def build_explainer(kind: str, final: Any, background: Any, task: str) -> Any:
    """The SHAP explainer for ``kind`` over ``background`` (transformed rows)."""
    import shap

    if kind == "tree":
        return shap.TreeExplainer(final)
    if kind == "linear":
        return shap.LinearExplainer(final, shap.maskers.Independent(background))
    predict = (
        final.predict_proba
        if task == "classification" and hasattr(final, "predict_proba")
        else final.predict
    )
    columns = getattr(final, "feature_names_in_", None)
    fn = predict if columns is None else _with_columns(predict, list(columns))
    return shap.PermutationExplainer(fn, shap.maskers.Independent(background, max_samples=100))


def _with_columns(predict: Any, columns: list[str]) -> Any:
    """The model was fitted on a DataFrame: hand it one, with its column names."""
    import pandas as pd

    def fn(rows: Any) -> Any:
        return predict(pd.DataFrame(rows, columns=columns))

    return fn


def explain(
    model: Any,
    X: Any,
    task: str,
    *,
    max_rows: int = 200,
    background_rows: int = 100,
    random_state: int = 0,
) -> Explanation:
    """SHAP values of up to ``max_rows`` rows of ``X`` for a fitted model.

    Falls back to the permutation explainer when the tree or linear explainer
    refuses the model.
    """
    import numpy as np

    names = [str(c) for c in getattr(X, "columns", range(np.shape(X)[1]))]
    sample = (
        X.sample(min(max_rows, len(X)), random_state=random_state)
        if hasattr(X, "sample")
        else X[:max_rows]
    )
    background = (
        sample.iloc[:background_rows] if hasattr(sample, "iloc") else sample[:background_rows]
    )
    prep, final = _split(model)
    Xs, out_names = _transform(prep, sample, names)
    Xb, _ = _transform(prep, background, names)
    kind = explainer_kind(final)
    with warnings.catch_warnings():
        # shap and its model adapters warn about output-format changes and RNG seeding;
        # these concern the library, not the user's data.
        warnings.simplefilter("ignore")
        try:
            explainer = build_explainer(kind, final, Xb, task)
            result = _run(explainer, kind, Xs)
        except Exception:
            if kind == "permutation":
                raise
            kind = "permutation"
            explainer = build_explainer(kind, final, Xb, task)
            result = _run(explainer, kind, Xs)
    values = np.asarray(result.values, dtype=float)
    axes = tuple(i for i in range(values.ndim) if i != 1)
    mean_abs = np.abs(values).mean(axis=axes)
    recipe = {
        "explainer": kind,
        "shap_version": _version("shap"),
        "model_artifact": "model",
        "transform": "pipeline_steps_before_final" if prep is not None else None,
        "output": "predict_proba"
        if task == "classification" and kind == "permutation"
        else ("model_output"),
        "feature_names": out_names,
        "input_columns": names,
        "background_artifact": "explain/background.json",
        "background_rows": len(background),
        "max_samples": 100,
    }
    return Explanation(
        kind=kind,
        feature_names=out_names,
        values=values,
        data=Xs[: len(values)],
        mean_abs={n: float(v) for n, v in zip(out_names, mean_abs, strict=False)},
        recipe=recipe,
    )


def _run(explainer: Any, kind: str, X: Any) -> Any:
    if kind == "tree":
        return explainer(X, check_additivity=False)
    if kind == "permutation":
        return explainer(X[:100], silent=True)
    return explainer(X)


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def summary_figure(explanation: Explanation, max_display: int = 15) -> Any:
    """SHAP's summary plot (beeswarm; bars per class for multiclass) as a Figure."""
    import matplotlib.pyplot as plt
    import shap

    values = explanation.values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if values.ndim == 3 and values.shape[2] > 2:
            shap.summary_plot(
                [values[:, :, k] for k in range(values.shape[2])],
                explanation.data,
                feature_names=explanation.feature_names,
                plot_type="bar",
                show=False,
                max_display=max_display,
            )
        else:
            two_d = values[:, :, -1] if values.ndim == 3 else values
            shap.summary_plot(
                two_d,
                explanation.data,
                feature_names=explanation.feature_names,
                show=False,
                max_display=max_display,
            )
        fig = plt.gcf()
    plt.close(fig)
    return fig
