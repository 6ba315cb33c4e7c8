"""keel.train end to end on small data: what is logged, lineage, CV kinds, model kinds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import DBSCAN, KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import keel
from keel.store import LineageNode


def _artifacts(client, run_id: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id)}


def test_classification_logs_cv_plots_shap_model_and_card(client, iris) -> None:
    result = keel.train(
        RandomForestClassifier(n_estimators=15, random_state=0),
        iris,
        target="species",
        experiment="iris",
        run_name="rf",
        cv=3,
        intended_use="tests",
        validation_curve={"param": "max_depth", "values": [1, 3, 5]},
    )
    run = client.get_run(result.run_id)
    assert run.status == "FINISHED" and run.name == "rf"
    m = result.metrics
    for name in (
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_weighted",
        "f1_weighted",
        "roc_auc",
        "log_loss",
    ):
        assert f"cv.{name}_mean" in m and f"cv.{name}_std" in m
    assert 0.85 < m["cv.accuracy_mean"] <= 1.0
    assert len(result.cv_scores["accuracy"]) == 3
    folds = client.get_metric_history(result.run_id, "cv_fold.accuracy")
    assert [f.step for f in folds] == [0, 1, 2]
    assert np.isclose(np.mean([f.value for f in folds]), m["cv.accuracy_mean"])
    names = _artifacts(client, result.run_id)
    for plot in (
        "confusion_matrix",
        "roc_curve",
        "pr_curve",
        "calibration",
        "learning_curve",
        "validation_curve",
        "feature_importance",
        "shap_summary",
        "shap_importance",
    ):
        assert f"plots/{plot}.png" in names
    assert {
        "model_card.md",
        "model_card.json",
        "explain/recipe.json",
        "explain/background.json",
        "model/keel-model.json",
    } <= names
    png = client.load_artifact_bytes(result.run_id, "plots/confusion_matrix.png")
    assert png.startswith(b"\x89PNG")
    recipe = json.loads(client.load_artifact_bytes(result.run_id, "explain/recipe.json"))
    assert recipe["explainer"] == "tree"
    assert recipe["feature_names"] == [c for c in iris.columns if c != "species"]
    card = json.loads(client.load_artifact_bytes(result.run_id, "model_card.json"))
    assert card["intended_use"] == {"purpose": "tests"}
    assert card["data"][0]["name"] == "iris-train" and card["data"][0]["rows"] == 150
    assert card["cross_validation"]["summary"]["accuracy"]["folds"] == result.cv_scores["accuracy"]
    assert card["top_features"][0]["feature"].startswith("petal")
    md = client.load_artifact_bytes(result.run_id, "model_card.md").decode()
    assert "## Intended use" in md and "| accuracy |" in md and "## Limitations" in md
    # the refit model is the one logged, and it loads back without pickle
    loaded = keel.sklearn.load_model(result.run_id)
    X = iris.drop(columns="species")
    assert (loaded.predict(X) == result.model.predict(X)).all()


def test_dataframe_is_registered_and_lineage_written(client, iris) -> None:
    test = iris.sample(30, random_state=0)
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris.drop(test.index),
        target="species",
        test_data=test,
        experiment="iris",
        dataset_name="flowers",
        evaluation=False,
    )
    inputs = dict(client.list_inputs(result.run_id))
    assert inputs["trained_on"].label == "flowers/1"
    assert inputs["evaluated_on"].label == "flowers-test/1"
    assert "test.accuracy" in result.metrics
    again = keel.train(
        DecisionTreeClassifier(), "flowers", target="species", experiment="iris", evaluation=False
    )
    assert dict(client.list_inputs(again.run_id))["trained_on"] == inputs["trained_on"]
    down = client.store.lineage.downstream(inputs["trained_on"])
    assert LineageNode("run", result.run_id) in down.nodes


def test_evaluation_off_logs_the_optimised_metric_only(client, iris) -> None:
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="iris",
        evaluation=False,
        metric="f1_macro",
    )
    assert {k for k in result.metrics if k.startswith("cv.")} == {
        "cv.f1_macro_mean",
        "cv.f1_macro_std",
    }
    names = _artifacts(client, result.run_id)
    assert not any(n.startswith(("plots/", "explain/")) for n in names)
    assert "model_card.json" in names


def test_evaluation_list_limits_metrics(client, iris) -> None:
    result = keel.train(
        DecisionTreeClassifier(random_state=0),
        iris,
        target="species",
        experiment="iris",
        evaluation=["balanced_accuracy"],
        cv=3,
    )
    cv = {k for k in result.metrics if k.startswith("cv.") and k.endswith("_mean")}
    assert cv == {"cv.accuracy_mean", "cv.balanced_accuracy_mean"}


def test_pipeline_with_column_transformer_on_mixed_columns(client, binary) -> None:
    frame = binary.copy()
    frame.loc[::17, "x1"] = np.nan
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["x1", "x2"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    )
    result = keel.train(
        model, frame, target="label", features=["x1", "x2", "color"], experiment="mixed", cv=3
    )
    assert result.metrics["cv.accuracy_mean"] > 0.6
    recipe = json.loads(client.load_artifact_bytes(result.run_id, "explain/recipe.json"))
    assert recipe["explainer"] == "linear"
    assert recipe["transform"] == "pipeline_steps_before_final"
    assert any(n.startswith("cat__color_") for n in recipe["feature_names"])


@pytest.mark.parametrize(
    ("cv", "splitter"),
    [
        ({"type": "group", "n_splits": 3, "groups": "store"}, "GroupKFold"),
        ({"type": "timeseries", "n_splits": 3}, "TimeSeriesSplit"),
        ({"type": "kfold", "n_splits": 4}, "KFold"),
    ],
)
def test_cv_kinds(client, binary, cv, splitter) -> None:
    result = keel.train(
        LogisticRegression(),
        binary,
        target="label",
        features=["x1", "x2"],
        experiment="cv",
        cv=cv,
        evaluation=False,
    )
    run = client.get_run(result.run_id)
    assert run.params["cv"].startswith(splitter)
    assert len(result.cv_scores["accuracy"]) == cv["n_splits"]
    if cv["type"] == "group":
        assert "store" not in result.model_card["data"][0]["features"]


def test_regression_metrics_and_plots(client, regression) -> None:
    result = keel.train(
        LinearRegression(),
        regression,
        target="y",
        experiment="reg",
        cv=3,
        test_data=regression.sample(40, random_state=0),
    )
    for name in ("mse", "rmse", "mae", "r2", "mape"):
        assert f"cv.{name}_mean" in result.metrics and f"test.{name}" in result.metrics
    assert result.metrics["cv.r2_mean"] > 0.9
    assert np.isclose(result.metrics["test.rmse"] ** 2, result.metrics["test.mse"])
    names = _artifacts(client, result.run_id)
    assert {"plots/residuals.png", "plots/learning_curve.png", "plots/shap_summary.png"} <= names


def test_clustering_with_labels_and_pca(client, iris) -> None:
    result = keel.train(
        make_pipeline(StandardScaler(), PCA(n_components=2), KMeans(3, n_init=5, random_state=0)),
        iris,
        target="species",
        task="clustering",
        experiment="clu",
    )
    m = result.metrics
    assert {"silhouette", "davies_bouldin", "calinski_harabasz", "adjusted_rand"} <= set(m)
    assert m["adjusted_rand"] > 0.4
    assert 0.9 < m["pca.explained_variance_total"] <= 1.0
    names = _artifacts(client, result.run_id)
    assert {"plots/clusters.png", "plots/pca_explained_variance.png"} <= names


def test_dbscan_and_bare_pca(client, iris) -> None:
    X = iris.drop(columns="species")
    dbscan = keel.train(make_pipeline(StandardScaler(), DBSCAN(eps=0.8)), X, experiment="clu")
    assert dbscan.task == "clustering" and dbscan.metrics["n_clusters"] >= 2
    pca = keel.train(PCA(n_components=3), X, experiment="clu")
    assert pca.task == "decomposition"
    history = client.get_metric_history(pca.run_id, "pca.explained_variance_ratio")
    assert len(history) == 3 and history[0].value > history[1].value
    # models that do not predict are stored too (skops), not silently left out
    for result in (dbscan, pca):
        assert client.get_run(result.run_id).tags["keel.model.format"] == "skops"
    stored = keel.sklearn.load_model(pca.run_id)
    assert np.allclose(stored.transform(X), pca.model.transform(X))


def test_xgboost_and_lightgbm(client, binary) -> None:
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    frame = binary[["x1", "x2", "label"]]
    for model in (
        xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1),
        lgb.LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1),
    ):
        result = keel.train(
            model, frame, target="label", experiment="boost", cv=3, evaluation=["accuracy"]
        )
        assert result.metrics["cv.accuracy_mean"] > 0.6
        recipe = json.loads(client.load_artifact_bytes(result.run_id, "explain/recipe.json"))
        assert recipe["explainer"] == "tree"
        assert "model/keel-model.json" in _artifacts(client, result.run_id)


def test_train_inside_an_active_run_nests(client, iris) -> None:
    with keel.start_run(experiment="outer") as outer:
        result = keel.train(DecisionTreeClassifier(), iris, target="species", evaluation=False)
    assert client.get_run(result.run_id).parent_run_id == outer.id
