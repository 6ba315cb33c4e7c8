"""Promotion gates: policies of checks, gate results, promotion, rollback.

Example::

    >>> from keel.gates import promote
    >>> outcome = promote("iris", 2, to="champion", policy="policy.yaml")
    >>> outcome.status
    'promoted'
"""

from __future__ import annotations

from keel.gates._policy import (
    CHECK_KINDS,
    Bound,
    Check,
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
)
from keel.gates._promote import (
    PromotionOutcome,
    PromotionPlan,
    PromotionRejectedError,
    apply_promotion,
    check_promotion,
    delete_alias,
    promote,
    rollback,
)

__all__ = [
    "CHECK_KINDS",
    "Bound",
    "Check",
    "Policy",
    "PolicyError",
    "PromotionOutcome",
    "PromotionPlan",
    "PromotionRejectedError",
    "apply_promotion",
    "check_promotion",
    "delete_alias",
    "load_policy",
    "parse_policy",
    "promote",
    "rollback",
]
