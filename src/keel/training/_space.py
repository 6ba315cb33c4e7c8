"""Search configuration: the space of hyperparameters and how to explore it.

Declared as a dict (or YAML), validated by pydantic models that forbid unknown keys::

    search = {
        "method": "tpe",            # or "random", "grid"
        "n_trials": 30,
        "n_jobs": 2,                # parallel worker processes
        "metric": "accuracy",       # default: the task's default metric
        "space": {
            "n_estimators": {"type": "int", "low": 10, "high": 300, "step": 10},
            "max_depth": {"type": "int", "low": 2, "high": 12},
            "max_features": {"type": "float", "low": 0.2, "high": 1.0},
            "min_impurity_decrease": {"type": "log", "low": 1e-6, "high": 1e-2},
            "criterion": ["gini", "entropy"],   # shorthand for categorical
        },
    }
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.training._errors import TrainingInputError

__all__ = [
    "PARAM_TYPES",
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "LogParam",
    "ParamSpec",
    "SearchConfig",
    "grid_values",
    "parse_search",
]

PARAM_TYPES = ("int", "float", "log", "categorical")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntParam(_Strict):
    """An integer in ``[low, high]`` (every ``step``; log-uniform when ``log``)."""

    type: Literal["int"] = "int"
    low: int
    high: int
    step: int = Field(1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError("log=True needs low >= 1 and step 1")
        return self


class FloatParam(_Strict):
    """A float in ``[low, high]`` (log-uniform when ``log``; quantised by ``step``)."""

    type: Literal["float"] = "float"
    low: float
    high: float
    step: float | None = Field(None, gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("log=True needs low > 0 and no step")
        return self


class LogParam(_Strict):
    """A float drawn log-uniformly from ``[low, high]`` (both > 0)."""

    type: Literal["log"] = "log"
    low: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> LogParam:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self


class CategoricalParam(_Strict):
    """One of ``choices`` (any values: numbers, strings, None, tuples...)."""

    type: Literal["categorical"] = "categorical"
    choices: list[Any] = Field(min_length=1)


ParamSpec = Annotated[
    IntParam | FloatParam | LogParam | CategoricalParam, Field(discriminator="type")
]


class SearchConfig(_Strict):
    """How to search: method, budget, parallelism, metric and the space."""

    method: Literal["tpe", "random", "grid"] = "tpe"
    n_trials: int | None = Field(None, ge=1)
    n_jobs: int = Field(1, ge=1)
    metric: str | None = None
    timeout: float | None = Field(None, gt=0)
    pruning: bool = True
    random_state: int = 0
    space: dict[str, ParamSpec] = Field(min_length=1)

    def trials(self) -> int:
        """The number of trials: given, or the grid size for grid search, or 20."""
        if self.n_trials is not None:
            return self.n_trials
        if self.method == "grid":
            return math.prod(len(grid_values(name, p)) for name, p in self.space.items())
        return 20


def grid_values(name: str, spec: Any) -> list[Any]:
    """The values a grid search tries for one parameter.

    Raises:
        TrainingInputError: a continuous range has no ``step`` (or is too long).
    """
    if isinstance(spec, CategoricalParam):
        return list(spec.choices)
    if isinstance(spec, IntParam) and not spec.log:
        values: list[Any] = list(range(spec.low, spec.high + 1, spec.step))
    elif isinstance(spec, FloatParam) and spec.step is not None:
        n = math.floor((spec.high - spec.low) / spec.step + 1e-9) + 1
        values = [round(spec.low + i * spec.step, 12) for i in range(n)]
    else:
        raise TrainingInputError(
            f"grid search cannot enumerate search-space parameter {name!r} ({spec.type}, "
            "continuous); give it a 'step' or declare it as categorical choices"
        )
    if len(values) > 1000:
        raise TrainingInputError(
            f"grid search over {name!r} would try {len(values)} values; use a larger step"
        )
    return values


def _pre_check(space: Any) -> dict[str, Any]:
    if not isinstance(space, Mapping) or not space:
        raise TrainingInputError(
            "search 'space' must be a non-empty mapping of parameter name -> spec, e.g. "
            "{'max_depth': {'type': 'int', 'low': 2, 'high': 10}}"
        )
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, list | tuple):
            spec = {"type": "categorical", "choices": list(spec)}
        if not isinstance(spec, Mapping):
            raise TrainingInputError(
                f"search-space parameter {name!r} must be a dict with a 'type' or a list of "
                f"choices; got {spec!r}"
            )
        kind = spec.get("type")
        if kind not in PARAM_TYPES:
            raise TrainingInputError(
                f"search-space parameter {name!r} has unknown type {kind!r}; "
                f"use one of: {', '.join(PARAM_TYPES)}"
            )
        out[str(name)] = dict(spec)
    return out


def parse_search(search: Mapping[str, Any] | SearchConfig) -> SearchConfig:
    """Validate a search dict (as given to ``keel.train`` or read from YAML).

    Raises:
        TrainingInputError: unknown keys, an unknown parameter type, bad bounds.
    """
    if isinstance(search, SearchConfig):
        return search
    if not isinstance(search, Mapping):
        raise TrainingInputError(
            f"search must be a dict like {{'method': 'tpe', 'n_trials': 30, 'space': {{...}}}}; "
            f"got {type(search).__name__}"
        )
    data = dict(search)
    data["space"] = _pre_check(data.get("space"))
    try:
        config = SearchConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TrainingInputError(
            f"search config is invalid at {where or 'top level'!r}: {first['msg']}"
            f" ({len(exc.errors())} error(s) in all)"
        ) from None
    if config.method == "grid":
        for name, spec in config.space.items():
            grid_values(name, spec)
    return config
