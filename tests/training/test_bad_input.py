"""Every bad input is refused before training, and leaves no run and no dataset behind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import keel
from keel.responsible import PrivacyError
from keel.training import TrainingInputError


def _nothing_written(client) -> None:
    assert client.search_runs() == []
    assert keel.datasets.list() == []


def _refused(client, match: str, *args, error=TrainingInputError, **kwargs) -> None:
    kwargs.setdefault("experiment", "bad")
    with pytest.raises(error, match=match):
        keel.train(*args, **kwargs)
    _nothing_written(client)


def test_missing_target_column_names_the_columns(client, iris) -> None:
    _refused(
        client,
        r"target column 'specie'.*did you mean 'species'",
        DecisionTreeClassifier(),
        iris,
        target="specie",
    )


def test_missing_feature_column(client, iris) -> None:
    _refused(
        client,
        r"feature column 'petal size' not in data",
        DecisionTreeClassifier(),
        iris,
        target="species",
        features=["petal size"],
    )


def test_one_class_target(client, iris) -> None:
    one = iris[iris.species == 0]
    _refused(client, r"only one class \(0\)", DecisionTreeClassifier(), one, target="species")


def test_fewer_rows_than_folds(client, iris) -> None:
    tiny = iris.iloc[[0, 1, 50, 51, 100, 101]]
    _refused(
        client,
        r"rarest class .* 2 row\(s\), fewer than the 5 stratified folds",
        DecisionTreeClassifier(),
        tiny,
        target="species",
        cv=5,
    )
    _refused(
        client,
        r"asks for 10 folds but the training data has only 6 rows",
        DecisionTreeClassifier(),
        tiny,
        target="species",
        cv={"type": "kfold", "n_splits": 10},
    )


def test_nan_in_target(client, iris) -> None:
    holes = iris.astype({"species": float})
    holes.loc[[3, 7], "species"] = np.nan
    _refused(
        client,
        r"target 'species' has 2 missing value",
        DecisionTreeClassifier(),
        holes,
        target="species",
    )


def test_non_numeric_features_without_preprocessing(client, binary) -> None:
    _refused(
        client,
        r"feature column 'color' is not numeric .* no preprocessing",
        LogisticRegression(),
        binary.drop(columns="sex"),
        target="label",
    )


def test_unknown_metric(client, iris) -> None:
    _refused(
        client,
        r"metric 'acuracy' is unknown; did you mean 'accuracy'",
        DecisionTreeClassifier(),
        iris,
        target="species",
        metric="acuracy",
    )
    _refused(
        client,
        r"evaluation metric 'rmse' is a regression metric",
        DecisionTreeClassifier(),
        iris,
        target="species",
        evaluation=["rmse"],
    )


def test_unknown_search_space_type(client, iris) -> None:
    space = {"max_depth": {"type": "integer", "low": 1, "high": 5}}
    _refused(
        client,
        r"'max_depth' has unknown type 'integer'; use one of: int, float, log",
        DecisionTreeClassifier(),
        iris,
        target="species",
        search={"space": space},
    )


def test_search_space_param_the_model_lacks(client, iris) -> None:
    space = {"max_dept": {"type": "int", "low": 1, "high": 5}}
    _refused(
        client,
        r"'max_dept' is not a parameter .* did you mean 'max_depth'",
        DecisionTreeClassifier(),
        iris,
        target="species",
        search={"space": space},
    )


def test_search_config_typos_and_bounds(client, iris) -> None:
    space = {"max_depth": {"type": "int", "low": 1, "high": 5}}
    _refused(
        client,
        r"n_trails",
        DecisionTreeClassifier(),
        iris,
        target="species",
        search={"n_trails": 3, "space": space},
    )
    _refused(
        client,
        r"below low",
        DecisionTreeClassifier(),
        iris,
        target="species",
        search={"space": {"max_depth": {"type": "int", "low": 5, "high": 1}}},
    )
    _refused(
        client,
        r"grid search cannot enumerate .*'min_impurity_decrease'",
        DecisionTreeClassifier(),
        iris,
        target="species",
        search={
            "method": "grid",
            "space": {"min_impurity_decrease": {"type": "float", "low": 0, "high": 1}},
        },
    )


def test_unknown_cv_and_task(client, iris) -> None:
    _refused(
        client,
        r"cv type 'shuffle' is unknown",
        DecisionTreeClassifier(),
        iris,
        target="species",
        cv={"type": "shuffle"},
    )
    _refused(
        client,
        r"task 'classify' is unknown",
        DecisionTreeClassifier(),
        iris,
        target="species",
        task="classify",
    )
    _refused(
        client,
        r"needs the group column",
        DecisionTreeClassifier(),
        iris,
        target="species",
        cv={"type": "group"},
    )


def test_privacy_without_private_counterpart(client, iris) -> None:
    _refused(
        client,
        r"GradientBoostingClassifier has no differentially private counterpart",
        GradientBoostingClassifier(),
        iris,
        target="species",
        privacy={"epsilon": 1.0},
        error=PrivacyError,
    )
    _refused(
        client,
        r"epsilon",
        LogisticRegression(),
        iris,
        target="species",
        privacy={"epsilon": -1},
        error=PrivacyError,
    )


def test_bad_data_argument_and_missing_dataset(client) -> None:
    _refused(
        client, r"data must be a pandas DataFrame", DecisionTreeClassifier(), [[1, 2]], target="y"
    )
    with pytest.raises(keel.errors.NotFoundError):
        keel.train(DecisionTreeClassifier(), "no-such-dataset", target="y")
    assert client.search_runs() == []


def test_mitigation_needs_sensitive_features_and_binary_target(client, iris, binary) -> None:
    _refused(
        client,
        r"mitigation needs sensitive_features",
        LogisticRegression(),
        binary[["x1", "x2", "label"]],
        target="label",
        mitigation="threshold_optimizer",
    )
    _refused(
        client,
        r"binary classification",
        LogisticRegression(),
        iris,
        target="species",
        sensitive_features="sepal width (cm)",
        mitigation="threshold_optimizer",
    )


def test_sensitive_features_with_clustering_is_refused(client, iris) -> None:
    _refused(
        client,
        r"sensitive_features needs a classification or regression task",
        KMeans(3, n_init=1),
        iris,
        sensitive_features=["species"],
    )


def test_failure_during_training_marks_the_run_failed(client) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.inf, 4.0] * 5, "y": [0, 1] * 10})
    with pytest.raises(ValueError):
        keel.train(LogisticRegression(), frame, target="y", experiment="bad", cv=2)
    (run,) = client.search_runs("bad")
    assert run.status == "FAILED"
    assert "ValueError" in run.error
