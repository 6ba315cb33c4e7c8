"""Evaluation plots of a training run: what the task calls for, logged as PNG artifacts."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["log_plots", "native_importance", "sklearn_scorer"]

_SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "f1_macro": "f1_macro",
    "precision_weighted": "precision_weighted",
    "recall_weighted": "recall_weighted",
    "f1_weighted": "f1_weighted",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
    "mse": "neg_mean_squared_error",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
    "mape": "neg_mean_absolute_percentage_error",
}

_CURVE_ROWS = 5000


def sklearn_scorer(metric: str) -> tuple[str, float]:
    """The scikit-learn scorer name for a keel metric and the sign that undoes ``neg_``."""
    name = _SCORERS[metric]
    return name, -1.0 if name.startswith("neg_") else 1.0


def native_importance(model: Any, features: Sequence[str]) -> tuple[list[str], Any, str] | None:
    """Feature importances the model computes itself (trees) or |coefficients| (linear)."""
    import numpy as np

    from keel.training._estimators import final_estimator

    final = final_estimator(model)
    names = list(features)
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        try:
            from sklearn.pipeline import Pipeline

            names = [str(n) for n in Pipeline(steps[:-1]).get_feature_names_out()]
        except (AttributeError, ValueError, TypeError):
            names = []
    values = getattr(final, "feature_importances_", None)
    source = "model feature_importances_"
    if values is None and getattr(final, "coef_", None) is not None:
        coef = np.atleast_2d(np.asarray(final.coef_, dtype=float))
        values = np.abs(coef).mean(axis=0)
        source = "mean |coefficient|"
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    if len(names) != len(values):
        names = [f"x{i}" for i in range(len(values))]
    return names, values, source


def _sample(X: Any, y: Any, groups: Any, n: int) -> tuple[Any, Any, Any]:
    if len(X) <= n:
        return X, y, groups
    idx = X.sample(n, random_state=0).index.sort_values()
    return X.loc[idx], y.loc[idx], groups.loc[idx] if groups is not None else None


def _curve_cv(plan: Any) -> Any:
    from sklearn.base import clone

    splitter = plan.splitter
    if splitter is None:
        return 3
    if hasattr(splitter, "n_splits") and splitter.get_n_splits() > 5:
        try:
            return clone(splitter).set_params(n_splits=5)
        except (TypeError, ValueError):
            return splitter
    return splitter


def log_plots(
    session: Any, fitted: Any, X: Any, y: Any, pred: Any, proba: Any, evaluated_on: str
) -> None:
    """Log the plots for the task: classification (confusion matrix, ROC, PR,
    calibration), regression (residuals), both (learning and validation curves,
    feature importance), clustering (clusters on two components)."""
    steps = _plot_steps(session, fitted, X, y, pred, proba)
    session.progress.stage("evaluation plots", total=len(steps))
    for i, (what, draw) in enumerate(steps):
        session.progress.update(f"evaluation plots: {what}", i)
        draw()
    session.progress.update("evaluation plots", len(steps))
    session.client.log_batch(session.run_id, tags={"keel.evaluation.on": evaluated_on})


def _plot_steps(
    session: Any, fitted: Any, X: Any, y: Any, pred: Any, proba: Any
) -> list[tuple[str, Callable[[], None]]]:
    """What to draw for the task, in order, each with what the progress line calls it."""
    from keel.training import _plots

    plan = session.plan
    classes = plan.classes
    steps: list[tuple[str, Callable[[], None]]] = []
    if plan.task == "classification":

        def classification() -> None:
            session.figure(_plots.confusion_matrix_figure(y, pred, classes), "confusion_matrix")
            if proba is not None:
                session.figure(_plots.roc_figure(y, proba, classes), "roc_curve")
                session.figure(_plots.pr_figure(y, proba, classes), "pr_curve")
                session.figure(_plots.calibration_figure(y, proba, classes), "calibration")

        steps.append(("confusion matrix, ROC, PR, calibration", classification))
    elif plan.task == "regression":
        steps.append(
            ("residuals", lambda: session.figure(_plots.residuals_figure(y, pred), "residuals"))
        )
    elif plan.task == "clustering":
        steps.append(("clusters", lambda: _cluster_plot(session, fitted, X)))
    if plan.task in ("classification", "regression"):
        steps.append(("learning curve", lambda: _learning_curve(session, fitted)))
        if plan.validation_curve is not None:
            steps.append(("validation curve", lambda: _validation_curve(session, fitted)))
        steps.append(("feature importance", lambda: _importance_plot(session, fitted)))
    return steps


def _importance_plot(session: Any, fitted: Any) -> None:
    from keel.training._plots import bar_figure

    found = native_importance(fitted, session.plan.train.features)
    if found is not None:
        names, values, source = found
        session.figure(
            bar_figure(names, values, "Feature importance", source), "feature_importance"
        )


def _cluster_plot(session: Any, fitted: Any, X: Any) -> None:
    import numpy as np

    from keel.training._evaluate import cluster_labels, cluster_space
    from keel.training._plots import scatter_figure

    space = cluster_space(fitted, X)
    labels = cluster_labels(fitted, X)
    if space.shape[1] > 2:
        from sklearn.decomposition import PCA

        space = PCA(n_components=2, random_state=0).fit_transform(space)
    elif space.shape[1] < 2:
        space = np.column_stack([space[:, 0], np.zeros(len(space))])
    session.figure(scatter_figure(space, labels, "Clusters"), "clusters")


def _learning_curve(session: Any, fitted: Any) -> None:
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import learning_curve

    from keel.training._plots import curve_figure

    plan = session.plan
    X, y, groups = _sample(plan.train.X, plan.train.y, plan.train.groups, _CURVE_ROWS)
    scorer, sign = sklearn_scorer(plan.metric)
    try:
        with warnings.catch_warnings():
            # small training sizes may miss a class; those points are simply NaN
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            sizes, train_scores, valid_scores = learning_curve(
                clone(fitted),
                X,
                y,
                groups=groups,
                cv=_curve_cv(plan),
                scoring=scorer,
                train_sizes=np.linspace(0.2, 1.0, 5),
                n_jobs=None,
                error_score=np.nan,
            )
    except ValueError as exc:
        session.caveats.append(f"Learning curve skipped: {exc}")
        return
    session.figure(
        curve_figure(
            list(sizes),
            sign * train_scores,
            sign * valid_scores,
            "training rows",
            plan.metric,
            "Learning curve",
        ),
        "learning_curve",
    )


def _validation_curve(session: Any, fitted: Any) -> None:
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import validation_curve

    from keel.training._plots import curve_figure

    plan = session.plan
    spec = plan.validation_curve
    X, y, groups = _sample(plan.train.X, plan.train.y, plan.train.groups, _CURVE_ROWS)
    scorer, sign = sklearn_scorer(plan.metric)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            train_scores, valid_scores = validation_curve(
                clone(fitted),
                X,
                y,
                param_name=spec["param"],
                param_range=spec["values"],
                groups=groups,
                cv=_curve_cv(plan),
                scoring=scorer,
                error_score=np.nan,
            )
    except ValueError as exc:
        session.caveats.append(f"Validation curve skipped: {exc}")
        return
    values = spec["values"]
    log_x = (
        all(isinstance(v, float) for v in values)
        and min(values) > 0
        and max(values) / min(values) > 50
    )
    session.figure(
        curve_figure(
            values,
            sign * train_scores,
            sign * valid_scores,
            spec["param"],
            plan.metric,
            f"Validation curve: {spec['param']}",
            log_x=log_x,
        ),
        "validation_curve",
    )
