"""Model cards: what a model is for, what it was trained on, how well and how fairly it does.

A card is plain data (``model_card.json``) rendered to Markdown (``model_card.md``);
both are logged with every training run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["build_model_card", "render_model_card"]


def build_model_card(
    *,
    run_id: str,
    run_name: str,
    experiment: str,
    model_class: str,
    task: str,
    params: Mapping[str, Any],
    intended_use: str | Mapping[str, Any] | None,
    datasets: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, float],
    cv: Mapping[str, Any] | None,
    fairness: Mapping[str, Any] | None,
    top_features: Sequence[tuple[str, float]],
    feature_source: str | None,
    privacy: Mapping[str, Any] | None,
    search: Mapping[str, Any] | None,
    caveats: Sequence[str],
) -> dict[str, Any]:
    """The card as plain data (the JSON artifact).

    ``intended_use`` may be text or a mapping (``purpose``, ``users``, ``out_of_scope``).
    """
    if intended_use is None:
        use: dict[str, Any] = {"purpose": "not stated: pass intended_use=... to keel.train"}
    elif isinstance(intended_use, str):
        use = {"purpose": intended_use}
    else:
        use = dict(intended_use)
    limitations = list(caveats)
    if fairness is None and task == "classification":
        limitations.append("Fairness was not assessed (no sensitive_features given).")
    if privacy is None:
        limitations.append("Trained without differential privacy; the model may memorise rows.")
    return {
        "schema_version": 1,
        "model": {
            "run_id": run_id,
            "run_name": run_name,
            "experiment": experiment,
            "class": model_class,
            "task": task,
            "params": {k: str(v) for k, v in params.items()},
        },
        "intended_use": use,
        "data": list(datasets),
        "metrics": dict(metrics),
        "cross_validation": dict(cv) if cv else None,
        "hyperparameter_search": dict(search) if search else None,
        "fairness": dict(fairness) if fairness else None,
        "top_features": [{"feature": n, "importance": v} for n, v in top_features],
        "feature_importance_source": feature_source,
        "privacy": dict(privacy) if privacy else None,
        "limitations": limitations,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_model_card(card: Mapping[str, Any]) -> str:
    """The card as Markdown (the ``model_card.md`` artifact)."""
    lines: list[str] = []
    for section in (
        _header,
        _data,
        _metrics,
        _search,
        _fairness,
        _top_features,
        _privacy,
        _limitations,
    ):
        lines += section(card)
    return "\n".join(lines) + "\n"


def _header(card: Mapping[str, Any]) -> list[str]:
    model = card["model"]
    lines = [
        f"# Model card: {model['run_name']}",
        "",
        f"- **Task:** {model['task']}",
        f"- **Model:** `{model['class']}`",
        f"- **Run:** `{model['run_id']}` (experiment `{model['experiment']}`)",
        "",
        "## Intended use",
        "",
    ]
    lines += [
        f"- **{k.replace('_', ' ').capitalize()}:** {v}" for k, v in card["intended_use"].items()
    ]
    return lines


def _data(card: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Data", ""]
    if not card["data"]:
        return [*lines, "No dataset recorded."]
    lines += ["| role | dataset | version | rows | columns |", "|---|---|---|---|---|"]
    for d in card["data"]:
        lines.append(
            f"| {d.get('role', '')} | {d.get('name', '')} | {d.get('version', '')} | "
            f"{d.get('rows', '')} | {len(d.get('schema', {}) or {})} |"
        )
    schema = card["data"][0].get("schema") or {}
    if schema:
        lines += [
            "",
            "Schema of the training data: "
            + ", ".join(f"`{k}` ({v})" for k, v in list(schema.items())[:40]),
        ]
    return lines


def _metrics(card: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Metrics", ""]
    cv = card.get("cross_validation")
    if cv and cv.get("summary"):
        lines += [
            f"Cross-validation: {cv.get('splitter')}",
            "",
            "| metric | mean | std |",
            "|---|---|---|",
        ]
        for name, stats in cv["summary"].items():
            lines.append(f"| {name} | {_fmt(stats['mean'])} | {_fmt(stats['std'])} |")
        lines.append("")
    # fairness and SHAP values have their own sections below
    other = {
        k: v
        for k, v in card["metrics"].items()
        if not k.startswith(("cv.", "cv_fold.", "fairness.", "mitigated.", "shap.", "epoch."))
    }
    if other:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(other.items())]
    return lines


def _search(card: Mapping[str, Any]) -> list[str]:
    search = card.get("hyperparameter_search")
    if not search:
        return []
    return [
        "",
        "## Hyperparameter search",
        "",
        f"{search.get('method')} search, {search.get('n_trials')} trials "
        f"({search.get('n_pruned', 0)} pruned); best CV {search.get('metric')} "
        f"{_fmt(search.get('best_score'))} with `{search.get('best_params')}`.",
    ]


def _fairness(card: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Fairness", ""]
    fairness = card.get("fairness")
    if not fairness:
        return [*lines, "Not assessed."]
    lines.append(
        f"Sensitive features: {', '.join(fairness.get('sensitive_features', []))}; "
        f"evaluated on: {fairness.get('evaluated_on', 'n/a')}."
    )
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in fairness.get("metrics", {}).items()]
    mitigated = fairness.get("mitigated")
    if mitigated:
        lines += [
            "",
            f"After mitigation ({mitigated.get('method')}, {mitigated.get('constraint')}):",
            "",
            "| measure | value |",
            "|---|---|",
        ]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in mitigated.get("metrics", {}).items()]
    return lines


def _top_features(card: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Top features", ""]
    if not card["top_features"]:
        return [*lines, "Not computed."]
    lines.append(f"Source: {card.get('feature_importance_source')}.")
    lines += ["", "| feature | importance |", "|---|---|"]
    lines += [f"| {f['feature']} | {_fmt(f['importance'])} |" for f in card["top_features"]]
    return lines


def _privacy(card: Mapping[str, Any]) -> list[str]:
    privacy = card.get("privacy")
    if not privacy:
        return ["", "## Privacy", "", "No differential privacy."]
    return [
        "",
        "## Privacy",
        "",
        f"Differentially private training with `{privacy.get('mechanism')}`, "
        f"epsilon = {privacy.get('epsilon')}.",
    ]


def _limitations(card: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Limitations and caveats", ""]
    return lines + ([f"- {c}" for c in card["limitations"]] or ["- None recorded."])
