"""Iris: a random forest tuned by a 30-trial Optuna search, with everything recorded.

Run: python examples/01-classic-ml/iris_random_forest.py   then: keel runs show <run id>
(KEEL_EXAMPLE_QUICK=1 runs a smaller search, as the tests do.)
"""

from __future__ import annotations

import os

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import keel


def main() -> keel.training.TrainingResult:
    quick = os.environ.get("KEEL_EXAMPLE_QUICK") == "1"
    iris = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    result = keel.train(
        RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1),
        iris,
        target="species",
        experiment="iris",
        run_name="random-forest",
        cv={"type": "stratified", "n_splits": 5},
        search={
            "method": "tpe",
            "n_trials": 6 if quick else 30,
            "n_jobs": 1 if quick else 2,
            "space": {
                "n_estimators": {"type": "int", "low": 10, "high": 80, "step": 10},
                "max_depth": {"type": "int", "low": 1, "high": 8},
                "max_features": {"type": "float", "low": 0.25, "high": 1.0},
                "criterion": ["gini", "entropy"],
            },
        },
        dataset_name="iris",
        intended_use="Teaching example: classify iris species from flower measurements.",
    )
    print(result)
    print(f"best params: {dict(result.best_params)}")
    print(f"details: keel runs show {result.run_id}")
    return result


if __name__ == "__main__":
    main()
