"""Differential privacy: swap an estimator for its diffprivlib counterpart.

``privacy={"epsilon": 1.0}`` trains with diffprivlib's private estimator of the same
kind. Feature bounds (and the data norm) are part of the privacy guarantee: give them
in the config; when they are missing keel computes them from the training data, which
itself leaks information, and records that as a caveat in the model card.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from keel.errors import InvalidArgumentError

__all__ = ["PRIVATE_COUNTERPARTS", "PrivacyConfig", "PrivacyError", "make_private", "parse_privacy"]


class PrivacyError(InvalidArgumentError):
    """The privacy config is invalid or the model has no differentially private counterpart."""

    code = "INVALID_PRIVACY_CONFIG"
    http_status = 400


#: scikit-learn class name -> diffprivlib class (in diffprivlib.models)
PRIVATE_COUNTERPARTS: dict[str, str] = {
    "LogisticRegression": "LogisticRegression",
    "GaussianNB": "GaussianNB",
    "RandomForestClassifier": "RandomForestClassifier",
    "LinearRegression": "LinearRegression",
    "KMeans": "KMeans",
    "PCA": "PCA",
}


class PrivacyConfig(BaseModel):
    """``privacy=`` of ``keel.train``.

    Attributes:
        epsilon: the privacy budget of one fit (smaller is more private).
        bounds: per-feature ``[lower, upper]`` (scalars or lists); computed from the
            data when omitted (a leak, recorded as a caveat).
        bounds_y: ``[lower, upper]`` of a regression target.
        data_norm: the largest L2 norm of a row (logistic regression, PCA).
        random_state: seed of the noise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    epsilon: float = Field(gt=0)
    bounds: tuple[Any, Any] | None = None
    bounds_y: tuple[float, float] | None = None
    data_norm: float | None = Field(None, gt=0)
    random_state: int | None = 0


def parse_privacy(privacy: Mapping[str, Any] | PrivacyConfig) -> PrivacyConfig:
    """Validate ``privacy=`` (a dict like ``{"epsilon": 1.0}``).

    Raises:
        PrivacyError: unknown keys, a missing or non-positive epsilon.
    """
    if isinstance(privacy, PrivacyConfig):
        return privacy
    if not isinstance(privacy, Mapping):
        raise PrivacyError(f"privacy must be a dict like {{'epsilon': 1.0}}; got {privacy!r}")
    try:
        return PrivacyConfig.model_validate(dict(privacy))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'privacy'}: {e['msg']}" for e in exc.errors()
        )
        raise PrivacyError(
            f"privacy config is invalid ({problems}); "
            "e.g. privacy={'epsilon': 1.0, 'bounds': [0, 1]}"
        ) from None


def _final(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if isinstance(steps, list) and steps else model


def check_private(model: Any) -> str:
    """The diffprivlib class name for ``model``'s final estimator.

    Raises:
        PrivacyError: the estimator has no private counterpart (names the ones that do).
    """
    name = type(_final(model)).__name__
    if name not in PRIVATE_COUNTERPARTS:
        raise PrivacyError(
            f"{name} has no differentially private counterpart; with privacy=... use one of: "
            f"{', '.join(PRIVATE_COUNTERPARTS)} (diffprivlib)"
        )
    return PRIVATE_COUNTERPARTS[name]


def make_private(
    model: Any, config: PrivacyConfig, X: Any, y: Any = None
) -> tuple[Any, dict[str, Any]]:
    """Return an unfitted private copy of ``model`` and a record of what was done.

    In a Pipeline only the final step is replaced; bounds are then taken on the
    output of the steps before it.

    Raises:
        PrivacyError: no private counterpart.
        MissingExtraError: diffprivlib is not installed.
    """
    import inspect

    import numpy as np
    from sklearn.base import clone

    from keel.errors import MissingExtraError

    target = check_private(model)
    try:
        import diffprivlib.models as dp
        from diffprivlib.accountant import BudgetAccountant
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise MissingExtraError.for_extra("diffprivlib", "responsible") from exc

    original = _final(model)
    steps = getattr(model, "steps", None)
    Xt = X
    if isinstance(steps, list) and len(steps) > 1:
        from sklearn.pipeline import Pipeline

        Xt = Pipeline([(n, clone(s)) for n, s in steps[:-1]]).fit_transform(X, y)
    Xt = np.asarray(Xt, dtype=float)
    cls = getattr(dp, target)
    accepted = set(inspect.signature(cls).parameters) - {"unused_args", "accountant"}
    # None means "sklearn's default" and diffprivlib's defaults differ (max_depth=5)
    kwargs = {
        k: v for k, v in original.get_params(deep=False).items() if k in accepted and v is not None
    }
    kwargs["epsilon"] = config.epsilon
    kwargs["random_state"] = config.random_state
    kwargs["accountant"] = BudgetAccountant()
    bound_kwargs, from_data = _data_bounds(accepted, config, Xt, y)
    kwargs.update(bound_kwargs)
    caveats: list[str] = []
    if from_data:
        caveats.append(
            f"{', '.join(from_data)} computed from the training data; this leaks information "
            "outside the epsilon budget. Pass them in privacy={...} for an end-to-end guarantee."
        )
    caveats.append(
        f"epsilon={config.epsilon} holds for one fit; cross-validation fits the model once "
        "per fold as well, and each released fold score spends further budget."
    )
    private = cls(**kwargs)
    if isinstance(steps, list) and len(steps) > 1:
        from sklearn.pipeline import Pipeline

        private = Pipeline([*[(n, clone(s)) for n, s in steps[:-1]], (steps[-1][0], private)])
    record = {
        "epsilon": config.epsilon,
        "mechanism": f"diffprivlib.models.{target}",
        "replaces": f"{type(original).__module__}.{type(original).__qualname__}",
        "computed_from_data": from_data,
        "caveats": caveats,
    }
    return private, record


def _data_bounds(
    accepted: set[str], config: PrivacyConfig, Xt: Any, y: Any
) -> tuple[dict[str, Any], list[str]]:
    """The bounds, norm and classes the private estimator takes, and which of them had
    to be computed from the training data (a leak outside the budget)."""
    import numpy as np

    kwargs: dict[str, Any] = {}
    from_data: list[str] = []
    if "bounds" in accepted or "bounds_X" in accepted:
        bounds = config.bounds
        if bounds is None:
            bounds = (Xt.min(axis=0), Xt.max(axis=0))
            from_data.append("bounds")
        lower = np.broadcast_to(np.asarray(bounds[0], dtype=float), (Xt.shape[1],)).copy()
        upper = np.broadcast_to(np.asarray(bounds[1], dtype=float), (Xt.shape[1],)).copy()
        upper = np.where(upper <= lower, lower + 1e-9, upper)
        kwargs["bounds_X" if "bounds_X" in accepted else "bounds"] = (lower, upper)
    if "bounds_y" in accepted and y is not None:
        bounds_y = config.bounds_y
        if bounds_y is None:
            yv = np.asarray(y, dtype=float)
            bounds_y = (float(yv.min()), float(yv.max()))
            from_data.append("bounds_y")
        kwargs["bounds_y"] = bounds_y
    if "data_norm" in accepted:
        norm = config.data_norm
        if norm is None:
            norm = float(np.linalg.norm(Xt, axis=1).max()) or 1.0
            from_data.append("data_norm")
        kwargs["data_norm"] = norm
    if "classes" in accepted and y is not None:
        kwargs["classes"] = sorted(np.unique(np.asarray(y)).tolist())
    return kwargs, from_data
