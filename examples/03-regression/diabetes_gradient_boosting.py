"""Diabetes: gradient boosting regression with CV, a held-out test split, residual
plots, learning and validation curves, and SHAP.

Run: python examples/03-regression/diabetes_gradient_boosting.py
"""

from __future__ import annotations

from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor

import keel


def main() -> keel.training.TrainingResult:
    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    test = frame.sample(frac=0.2, random_state=0)
    train = frame.drop(test.index)
    result = keel.train(
        GradientBoostingRegressor(
            n_estimators=100, max_depth=2, learning_rate=0.05, random_state=0
        ),
        train,
        target="progression",
        test_data=test,
        experiment="diabetes",
        run_name="gradient-boosting",
        cv=5,
        validation_curve={"param": "max_depth", "values": [1, 2, 3, 4]},
        dataset_name="diabetes",
        intended_use="Teaching example: predict disease progression one year after baseline.",
    )
    print(result)
    print(f"details: keel runs show {result.run_id}")
    return result


if __name__ == "__main__":
    main()
