"""``keel.models``: register, load, promote and roll back models.

A thin front over :mod:`keel.registry` (versions, loading, lineage) and
:mod:`keel.gates` (promotion policies, aliases, rollback).

Example::

    >>> import keel
    >>> v = keel.models.register(run.id, "iris")
    >>> keel.models.promote(v.ref, to="champion", policy="policy.yaml")   # "iris/1"
    >>> model = keel.models.load("iris@champion")
"""

from __future__ import annotations

from keel.gates import (
    Policy,
    PromotionOutcome,
    check_promotion,
    delete_alias,
    load_policy,
    promote,
    rollback,
)
from keel.registry import (
    LoggedModel,
    ModelLineage,
    alias_history,
    archive,
    get_version,
    infer_signature,
    list_models,
    list_versions,
    load,
    load_input_example,
    log_model,
    model_lineage as lineage,
    register,
)

get = get_version

__all__ = [
    "LoggedModel",
    "ModelLineage",
    "Policy",
    "PromotionOutcome",
    "alias_history",
    "archive",
    "check_promotion",
    "delete_alias",
    "get",
    "get_version",
    "infer_signature",
    "lineage",
    "list_models",
    "list_versions",
    "load",
    "load_input_example",
    "load_policy",
    "log_model",
    "promote",
    "register",
    "rollback",
]
