"""SHAP: the explainer that fits the model, global importance, and a rebuildable recipe."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsClassifier

from keel.responsible import build_explainer, explain, explainer_kind


def test_kinds_and_global_importance(regression) -> None:
    X, y = regression[["a", "b", "c"]], regression["y"]
    tree = explain(
        RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y), X, "regression"
    )
    linear = explain(Ridge().fit(X, y), X, "regression")
    assert tree.kind == "tree" and linear.kind == "linear"
    for e in (tree, linear):
        top = [name for name, _ in e.top_features(3)]
        assert top[0] == "a" and top[-1] == "c"  # y = 3a - 2b + noise


def test_permutation_fallback_and_recipe_rebuilds(iris) -> None:
    X, y = iris.drop(columns="species"), iris["species"]
    model = KNeighborsClassifier().fit(X, y)
    assert explainer_kind(model) == "permutation"
    e = explain(model, X, "classification", max_rows=30)
    assert e.values.shape[:2] == (30, 4)
    assert e.recipe["explainer"] == "permutation" and e.recipe["output"] == "predict_proba"
    rebuilt = build_explainer(
        e.recipe["explainer"], model, np.asarray(X.iloc[:20]), "classification"
    )
    one = rebuilt(np.asarray(X.iloc[:1]), silent=True)
    assert one.values.shape == (1, 4, 3)
