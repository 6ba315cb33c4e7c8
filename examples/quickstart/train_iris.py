"""keel's quickstart: train two scikit-learn models on iris with full tracking.

Run it with ``make demo`` (or ``python examples/quickstart/train_iris.py``). Everything
goes to ./.keel (SQLite + an artifact folder); nothing needs a server.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keel
from keel.cli._render import render_compare, render_run

EXPERIMENT = "iris-quickstart"


def train(name: str, model: object, params: dict[str, object], data: tuple) -> str:  # type: ignore[type-arg]
    """Train one model inside a run; returns the run id."""
    X_train, X_test, y_train, y_test = data
    with keel.start_run(experiment=EXPERIMENT, run_name=name, tags={"stage": "quickstart"}) as run:
        keel.log_params({"model": name, **params})
        scores = cross_val_score(model, X_train, y_train, cv=5)  # type: ignore[arg-type]
        for fold, score in enumerate(scores):
            keel.log_metric("cv_accuracy", float(score), step=fold)
        keel.log_metrics(
            {"cv_accuracy_mean": float(scores.mean()), "cv_accuracy_std": float(scores.std())}
        )
        model.fit(X_train, y_train)  # type: ignore[attr-defined]
        pred = model.predict(X_test)  # type: ignore[attr-defined]
        keel.log_metrics(
            {
                "test_accuracy": accuracy_score(y_test, pred),
                "test_f1_macro": f1_score(y_test, pred, average="macro"),
            }
        )
        fig, ax = plt.subplots(figsize=(4, 4))
        ConfusionMatrixDisplay.from_predictions(y_test, pred, ax=ax, colorbar=False)
        keel.log_figure(fig, "plots/confusion_matrix.png")
        plt.close(fig)
        keel.sklearn.log_model(model, input_example=X_test.head(5))
    return run.id


def main() -> int:
    X, y = load_iris(return_X_y=True, as_frame=True)
    data = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    X_test = data[1]
    rf_params = {"n_estimators": 100, "max_depth": 4, "random_state": 0}
    rf = train("random-forest", RandomForestClassifier(**rf_params), rf_params, data)
    lr_params = {"C": 0.05, "max_iter": 500}
    lr = train(
        "logistic-regression",
        make_pipeline(StandardScaler(), LogisticRegression(**lr_params)),
        lr_params,
        data,
    )

    client = keel.Client()
    run = client.get_run(rf)
    render_run(run, EXPERIMENT, client.list_artifacts(rf), [])
    render_compare([client.get_run(rf), client.get_run(lr)])
    model = keel.sklearn.load_model(rf)  # sha256-verified, skops with recorded trusted types
    print(
        f"\nreloaded the random forest from the store: predicts {model.predict(X_test.head(3)).tolist()}"
    )
    venv = "" if sys.prefix == sys.base_prefix else f" (first: . {sys.prefix}/bin/activate)"
    print(f"\nLook at it again with{venv}:")
    print(f"  keel runs list --experiment {EXPERIMENT}")
    print(f"  keel runs show {rf[:8]}")
    print(f"  keel runs compare {rf[:8]} {lr[:8]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
