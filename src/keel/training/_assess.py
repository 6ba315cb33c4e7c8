"""The responsible-AI steps of a training run: fairness (and its mitigation), SHAP."""

from __future__ import annotations

from typing import Any

__all__ = ["assess_fairness_of", "explain_model"]


def assess_fairness_of(session: Any, fitted: Any, y_eval: Any, pred: Any, eval_on: str) -> None:
    """Fairness of ``fitted``'s predictions over the sensitive features, mitigated when
    asked; logged as ``fairness.*`` metrics, ``fairness/report.json`` and a plot."""
    from keel.responsible import assess_fairness

    plan = session.plan
    if plan.task != "classification":
        session.caveats.append("Fairness metrics are only computed for classification.")
        return
    sensitive = plan.test.sensitive if eval_on == "test" else plan.train.sensitive
    report = assess_fairness(y_eval, pred, sensitive, plan.classes)
    session.log_metrics({f"fairness.{k}": v for k, v in report.metrics.items()})
    session.fairness = {**report.to_dict(), "evaluated_on": eval_on}
    if plan.mitigation is not None:
        _mitigate(session, fitted, y_eval, sensitive, eval_on)
    session.client.log_dict(session.run_id, session.fairness, "fairness/report.json")
    if plan.evaluate:
        rates = report.by_group.get("selection_rate") or report.by_group.get("accuracy", {})
        title = "Selection rate" if "selection_rate" in report.by_group else "Accuracy"
        by = ", ".join(report.sensitive_features)
        session.bar_plot(rates, f"{title} by {by}", title, "fairness_by_group")


def _mitigate(session: Any, fitted: Any, y_eval: Any, sensitive: Any, eval_on: str) -> None:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from keel.responsible import assess_fairness, mitigate

    plan = session.plan
    mitigated = mitigate(
        plan.mitigation,
        fitted,
        plan.train.X,
        plan.train.y,
        plan.train.sensitive,
        plan.classes,
    )
    X_eval = plan.test.X if eval_on == "test" else plan.train.X
    m_pred = mitigated.predict(X_eval, sensitive)
    after = assess_fairness(y_eval, m_pred, sensitive, plan.classes)
    quality = {
        "accuracy": float(accuracy_score(y_eval, m_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_eval, m_pred)),
    }
    session.log_metrics({f"fairness.mitigated.{k}": v for k, v in after.metrics.items()})
    session.log_metrics({f"mitigated.{k}": v for k, v in quality.items()})
    session.mitigated = mitigated
    session.fairness["mitigated"] = {
        **plan.mitigation,
        "metrics": after.metrics,
        "quality": quality,
        "by_group": after.by_group,
    }
    session.client.log_batch(
        session.run_id,
        params={
            "mitigation.method": plan.mitigation["method"],
            "mitigation.constraint": plan.mitigation["constraint"],
        },
    )
    session.caveats.append(
        f"Mitigation ({plan.mitigation['method']}) changes predictions using the "
        "sensitive features at prediction time; the logged `model` artifact is the "
        "unmitigated model."
    )
    if eval_on != "test":
        session.caveats.append(
            "Mitigation was evaluated on its own training data "
            "(no test split): the improvement is optimistic."
        )


def explain_model(session: Any, fitted: Any) -> None:
    """SHAP values of ``fitted`` on the training data: ``shap.mean_abs.*`` metrics, the
    recipe and background under ``explain/``, and two plots. A failure is a caveat."""
    import json

    from keel.responsible import explain
    from keel.responsible._explain import summary_figure

    X = session.plan.train.X
    try:
        explanation = explain(fitted, X, session.plan.task)
    except Exception as exc:
        session.caveats.append(f"SHAP explanation failed: {type(exc).__name__}: {exc}")
        return
    session.explanation = explanation
    for name, value in explanation.mean_abs.items():
        session.log_metrics({f"shap.mean_abs.{name}": value})
    background = X.sample(min(100, len(X)), random_state=0)
    client, run_id = session.client, session.run_id
    client.log_text(
        run_id, background.to_json(orient="split", index=False), "explain/background.json"
    )
    client.log_text(run_id, json.dumps(explanation.recipe, indent=2), "explain/recipe.json")
    client.log_dict(
        run_id,
        {"explainer": explanation.kind, "mean_abs_shap": explanation.mean_abs},
        "explain/global_importance.json",
    )
    session.bar_plot(
        explanation.mean_abs, "SHAP global importance", "mean |SHAP value|", "shap_importance"
    )
    try:
        session.figure(summary_figure(explanation), "shap_summary")
    except Exception as exc:
        session.caveats.append(f"SHAP summary plot failed: {exc}")
