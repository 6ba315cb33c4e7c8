"""Credit approval on synthetic data with a sensitive attribute.

1. A preprocessing Pipeline (imputation, scaling, one-hot) + logistic regression,
   assessed for fairness across ``sex`` and mitigated with a threshold optimiser
   (demographic parity): metrics before and after are logged as ``fairness.*`` and
   ``fairness.mitigated.*``.
2. The same model trained with differential privacy (diffprivlib, epsilon = 1).

Run: python examples/05-fairness-privacy/credit_fairness_privacy.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import keel


def credit_data(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Synthetic applicants: income carries a group gap, so approvals do too."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    income = rng.normal(48, 14, n) + np.where(sex == "male", 7, 0)
    debt = rng.gamma(2.0, 9.0, n)
    age = rng.integers(19, 75, n)
    employment = rng.choice(["salaried", "self-employed", "unemployed"], n, p=[0.7, 0.2, 0.1])
    score = income - 0.8 * debt + 0.1 * age - np.where(employment == "unemployed", 12, 0)
    approved = (score + rng.normal(0, 8, n) > 30).astype(int)
    frame = pd.DataFrame(
        {
            "income": income,
            "debt": debt,
            "age": age,
            "employment": employment,
            "sex": sex,
            "approved": approved,
        }
    )
    frame.loc[rng.random(n) < 0.03, "income"] = np.nan  # some missing incomes
    return frame


def main() -> tuple[keel.training.TrainingResult, keel.training.TrainingResult]:
    frame = credit_data()
    test = frame.sample(frac=0.25, random_state=1)
    train = frame.drop(test.index)
    numeric, categorical = ["income", "debt", "age"], ["employment"]
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        (
                            "num",
                            make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                            numeric,
                        ),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    fair = keel.train(
        model,
        train,
        target="approved",
        test_data=test,
        sensitive_features=["sex"],
        mitigation={"method": "threshold_optimizer", "constraint": "demographic_parity"},
        experiment="credit",
        run_name="logreg-fairness",
        dataset_name="credit",
        intended_use={
            "purpose": "Demonstrate fairness assessment of credit approvals.",
            "out_of_scope": "Real lending decisions.",
        },
    )
    print(fair)
    for key in ("demographic_parity_difference", "equalized_odds_difference"):
        print(
            f"{key}: {fair.metrics[f'fairness.{key}']:.3f} -> "
            f"{fair.metrics[f'fairness.mitigated.{key}']:.3f} after mitigation"
        )
    private = keel.train(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        train.dropna(),
        target="approved",
        features=numeric,
        test_data=test.dropna(),
        sensitive_features=["sex"],
        privacy={"epsilon": 1.0, "data_norm": 5.0},
        experiment="credit",
        run_name="logreg-dp-eps1",
        dataset_name="credit-complete",
        intended_use="Demonstrate differentially private training.",
    )
    print(private)
    print(f"details: keel runs show {fair.run_id}  /  keel runs show {private.run_id}")
    return fair, private


if __name__ == "__main__":
    main()
