"""Responsible AI at training time: fairness, SHAP explanations, differential privacy
and model cards.

Example::

    >>> from keel.responsible import assess_fairness
    >>> report = assess_fairness(y_true, y_pred, df[["sex"]], classes=[0, 1])
    >>> report.metrics["demographic_parity_difference"]
"""

from __future__ import annotations

from keel.responsible._explain import Explanation, build_explainer, explain, explainer_kind
from keel.responsible._fairness import (
    MITIGATIONS,
    FairnessReport,
    MitigatedModel,
    assess_fairness,
    mitigate,
    parse_mitigation,
)
from keel.responsible._model_card import build_model_card, render_model_card
from keel.responsible._privacy import (
    PRIVATE_COUNTERPARTS,
    PrivacyConfig,
    PrivacyError,
    check_private,
    make_private,
    parse_privacy,
)

__all__ = [
    "MITIGATIONS",
    "PRIVATE_COUNTERPARTS",
    "Explanation",
    "FairnessReport",
    "MitigatedModel",
    "PrivacyConfig",
    "PrivacyError",
    "assess_fairness",
    "build_explainer",
    "build_model_card",
    "check_private",
    "explain",
    "explainer_kind",
    "make_private",
    "mitigate",
    "parse_mitigation",
    "parse_privacy",
    "render_model_card",
]
