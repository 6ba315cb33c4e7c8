"""Model cards render every section from plain data."""

from __future__ import annotations

from keel.responsible import build_model_card, render_model_card


def test_card_sections() -> None:
    card = build_model_card(
        run_id="r1",
        run_name="rf",
        experiment="credit",
        model_class="x.Model",
        task="classification",
        params={"depth": 3},
        intended_use={"purpose": "demo", "out_of_scope": "lending"},
        datasets=[
            {
                "role": "train",
                "name": "credit",
                "version": 2,
                "rows": 10,
                "schema": {"age": "int64"},
            }
        ],
        metrics={"cv.accuracy_mean": 0.9, "test.accuracy": 0.88},
        cv={
            "splitter": "KFold(n_splits=5)",
            "summary": {"accuracy": {"mean": 0.9, "std": 0.01, "folds": [0.9]}},
        },
        fairness={
            "sensitive_features": ["sex"],
            "evaluated_on": "test",
            "metrics": {"demographic_parity_difference": 0.1},
            "mitigated": {
                "method": "threshold_optimizer",
                "constraint": "demographic_parity",
                "metrics": {"demographic_parity_difference": 0.02},
            },
        },
        top_features=[("age", 0.5)],
        feature_source="mean |SHAP| (tree)",
        privacy={"mechanism": "diffprivlib.models.LogisticRegression", "epsilon": 1.0},
        search=None,
        caveats=["small data"],
    )
    md = render_model_card(card)
    for text in (
        "# Model card: rf",
        "**Out of scope:** lending",
        "| train | credit | 2 | 10 | 1 |",
        "| accuracy | 0.9 | 0.01 |",
        "| test.accuracy | 0.88 |",
        "After mitigation",
        "| age | 0.5 |",
        "epsilon = 1.0",
        "- small data",
    ):
        assert text in md
    assert card["limitations"] == ["small data"]
