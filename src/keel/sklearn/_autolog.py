"""``keel.sklearn.autolog()``: every ``fit`` of a scikit-learn estimator is tracked.

``fit`` of each estimator class is wrapped. The outermost ``fit`` (a Pipeline's, not
those of its steps) logs the estimator's params, its training score and the fitted
estimator in skops format, into the active run or a new one it starts and ends.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any

__all__ = ["autolog"]

_inside_fit: contextvars.ContextVar[bool] = contextvars.ContextVar("keel_inside_fit", default=False)
_ORIGINAL = "_keel_original_fit"
_MAX_PARAM = 500


def _estimator_classes() -> list[type]:
    from sklearn.base import BaseEstimator
    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()}
    pending = [BaseEstimator]
    while pending:  # third-party estimators imported so far (LightGBM, XGBoost, ...)
        cls = pending.pop()
        classes.add(cls)
        pending.extend(cls.__subclasses__())
    return [c for c in classes if "fit" in c.__dict__ and callable(c.__dict__["fit"])]


def _params(estimator: Any) -> dict[str, str]:
    params = {}
    for key, value in estimator.get_params(deep=True).items():
        text = str(value)
        params[key] = text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."
    return params


def _log_fit(
    estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any], log_models: bool
) -> None:
    import keel
    from keel.sklearn._persist import log_model

    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    keel.log_params(_params(estimator))
    keel.set_tag("estimator_class", f"{type(estimator).__module__}.{type(estimator).__qualname__}")
    if hasattr(estimator, "score") and X is not None:
        try:
            score = estimator.score(X, y) if y is not None else estimator.score(X)
            keel.log_metric("training_score", float(score))
        except (TypeError, ValueError, AttributeError):
            pass  # estimators whose score needs other arguments: nothing to log
    if log_models:
        example = X[:5] if X is not None and hasattr(X, "__getitem__") else None
        log_model(estimator, "model", input_example=example)


def _wrap(cls: type, log_models: bool) -> None:
    original = cls.__dict__["fit"]

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside_fit.get():
            return original(self, *args, **kwargs)
        import keel

        token = _inside_fit.set(True)
        try:
            own_run = keel.active_run() is None
            run = keel.start_run(run_name=type(self).__name__) if own_run else None
            try:
                result = original(self, *args, **kwargs)
                _log_fit(self, args, kwargs, log_models)
            except BaseException:
                if run is not None:
                    import sys

                    run.__exit__(*sys.exc_info())
                raise
            if run is not None:
                run.end()
            return result
        finally:
            _inside_fit.reset(token)

    setattr(fit, _ORIGINAL, original)
    cls.fit = fit  # type: ignore[attr-defined]


def autolog(disable: bool = False, log_models: bool = True) -> None:
    """Track every scikit-learn ``fit``: params, training score and the fitted model.

    Args:
        disable: undo a previous ``autolog()``.
        log_models: also log the fitted estimator (skops) as ``model/``.

    Example::

        >>> keel.sklearn.autolog()
        >>> RandomForestClassifier().fit(X, y)   # a run is recorded
    """
    for cls in _estimator_classes():
        fit = cls.__dict__["fit"]
        wrapped = hasattr(fit, _ORIGINAL)
        if disable and wrapped:
            cls.fit = getattr(fit, _ORIGINAL)  # type: ignore[attr-defined]
        elif not disable and not wrapped:
            _wrap(cls, log_models)
