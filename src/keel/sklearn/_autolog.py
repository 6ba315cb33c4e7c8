"""``keel.sklearn.autolog()``: every ``fit`` of a scikit-learn estimator is tracked.

``fit`` of each estimator class is wrapped. The outermost ``fit`` (a Pipeline's, not
those of its steps) logs the estimator's params, its training score and the fitted
estimator in skops format, into the active run or a new one it starts and ends. When
it started the run, it says on stderr which run it was once the run has ended.
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
    from keel.sklearn._persist import log_model
    from keel.tracking import log_metric, log_params, set_tag

    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    log_params(_params(estimator))
    set_tag("estimator_class", f"{type(estimator).__module__}.{type(estimator).__qualname__}")
    if hasattr(estimator, "score") and X is not None:
        try:
            score = estimator.score(X, y) if y is not None else estimator.score(X)
            log_metric("training_score", float(score))
        except (TypeError, ValueError, AttributeError):
            pass  # estimators whose score needs other arguments: nothing to log
    if log_models:
        example = X[:5] if X is not None and hasattr(X, "__getitem__") else None
        log_model(estimator, "model", input_example=example)


def _wrap(cls: type, log_models: bool, silent: bool) -> None:
    original = cls.__dict__["fit"]

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside_fit.get():
            return original(self, *args, **kwargs)
        from keel.tracking import active_run

        token = _inside_fit.set(True)
        try:
            if active_run() is not None:
                result = original(self, *args, **kwargs)
                _log_fit(self, args, kwargs, log_models)
                return result
            return _fit_in_own_run(self, original, args, kwargs, log_models, silent)
        finally:
            _inside_fit.reset(token)

    setattr(fit, _ORIGINAL, original)
    cls.fit = fit  # type: ignore[attr-defined]


def _fit_in_own_run(
    estimator: Any,
    original: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    log_models: bool,
    silent: bool,
) -> Any:
    """Fit in a run of its own; the run ends FAILED (and the error propagates) when the
    fit or its logging fails, and its id is printed once it has ended."""
    import sys

    from keel._terminal import announce_run_end, terminal_output
    from keel.tracking import start_run

    run = start_run(run_name=type(estimator).__name__)
    try:
        result = original(estimator, *args, **kwargs)
        _log_fit(estimator, args, kwargs, log_models)
    except BaseException:
        run.__exit__(*sys.exc_info())
        raise
    else:
        run.end()
    finally:
        output = terminal_output(False if silent else None, run.client.settings.progress)
        if output.announce:
            announce_run_end(run.client, run.id)
    return result


def autolog(disable: bool = False, log_models: bool = True, silent: bool = False) -> None:
    """Track every scikit-learn ``fit``: params, training score and the fitted model.

    A ``fit`` outside any run gets a run of its own (named after the estimator); when
    that run ends, one line on stderr names it: ``keel: run ID 'NAME' (experiment 'E')
    ended: FINISHED``. Calling ``autolog`` again replaces the earlier options.

    Args:
        disable: undo a previous ``autolog()``.
        log_models: also log the fitted estimator (skops) as ``model/``.
        silent: print nothing on stderr (also: the ``progress`` setting,
            ``KEEL_PROGRESS=0``).

    Example::

        >>> keel.sklearn.autolog()
        >>> RandomForestClassifier().fit(X, y)   # a run is recorded
        keel: run 3fa9c1d2... 'RandomForestClassifier' (experiment 'default') ended: FINISHED
    """
    for cls in _estimator_classes():
        fit = cls.__dict__["fit"]
        if hasattr(fit, _ORIGINAL):
            cls.fit = getattr(fit, _ORIGINAL)  # type: ignore[attr-defined]
        if not disable:
            _wrap(cls, log_models, silent)
