"""The search step of a training run: run the trials, record what they found, tune the model."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["tune"]


def tune(session: Any, model: Any) -> Any:
    """Search ``model``'s hyperparameters for ``session`` and return it with the best ones.

    Logs the search's params, metrics, ``search/summary.json`` and plots to the run, and
    picks the validation curve's parameter when none was asked for.
    """
    from keel.training._estimators import set_n_jobs_default
    from keel.training._search import run_search

    plan = session.plan
    job = _trial_job(session, model)
    session.flush()
    n_folds = len(plan.splits) if plan.splits is not None else 1
    n_trials = plan.search.trials()
    events = session.progress.search(n_trials, n_folds, min(plan.search.n_jobs, n_trials))
    outcome = run_search(job, session.client, events)
    session.search_outcome = outcome
    _log_outcome(session, outcome, job.metric)
    _log_plots(session, outcome, job.metric, job.greater_is_better)
    _default_validation_curve(plan, outcome)
    tuned = model.set_params(**outcome.best_params)
    set_n_jobs_default(tuned, None)
    return tuned


def _trial_job(session: Any, model: Any) -> Any:
    from keel.training._metrics import METRICS
    from keel.training._search import TrialJob

    plan = session.plan
    config = plan.search
    metric = config.metric or plan.metric
    return TrialJob(
        storage_path="",
        study_name=f"keel-{session.run_id}",
        n_trials=0,
        worker=0,
        config=config,
        estimator=model,
        X=plan.train.X,
        y=plan.train.y,
        splits=plan.splits,
        task=plan.task,
        metric=metric,
        greater_is_better=METRICS[metric].greater_is_better,
        experiment=plan.experiment,
        parent_run_id=session.run_id,
        context=session.client.context.spec(),
        deadline=time.time() + config.timeout if config.timeout else None,
        model_n_jobs=1 if config.n_jobs > 1 else None,
        classes=plan.classes,
    )


def _log_outcome(session: Any, outcome: Any, metric: str) -> None:
    config = session.plan.search
    session.client.log_batch(
        session.run_id,
        params={
            "search.method": config.method,
            "search.n_trials": outcome.n_trials,
            "search.n_jobs": config.n_jobs,
            "search.metric": metric,
            "search.executor": outcome.executor,
            **{f"best.{k}": v for k, v in outcome.best_params.items()},
        },
    )
    session.log_metrics(
        {
            f"search.best_{metric}": outcome.best_score,
            "search.n_complete": outcome.n_complete,
            "search.n_pruned": outcome.n_pruned,
            "search.n_failed": outcome.n_failed,
            "search.seconds": outcome.wall_seconds,
        }
    )
    for name, value in outcome.importances.items():
        session.log_metrics({f"search.importance.{name}": value})
    session.search_summary = {
        "method": config.method,
        "n_trials": outcome.n_trials,
        "n_pruned": outcome.n_pruned,
        "metric": metric,
        "best_score": outcome.best_score,
        "best_params": {k: _plain(v) for k, v in outcome.best_params.items()},
        "executor": outcome.executor,
    }
    session.client.log_dict(
        session.run_id,
        {
            **session.search_summary,
            "scores": outcome.scores,
            "importances": outcome.importances,
            "space": config.model_dump(mode="json")["space"],
        },
        "search/summary.json",
    )


def _log_plots(session: Any, outcome: Any, metric: str, greater_is_better: bool) -> None:
    from keel.training._plots import history_figure

    session.figure(
        history_figure(outcome.scores, greater_is_better, metric), "optimization_history"
    )
    if outcome.importances:
        session.bar_plot(
            outcome.importances,
            "Hyperparameter importance",
            "importance (fANOVA)",
            "param_importances",
        )


def _default_validation_curve(plan: Any, outcome: Any) -> None:
    """With no validation curve asked for, draw one over the most important parameter."""
    if plan.validation_curve is not None or not plan.evaluate or not outcome.importances:
        return
    from keel.training._plan import curve_values

    param = max(outcome.importances, key=lambda k: outcome.importances[k])
    values = curve_values(plan.search.space[param])
    if len(values) >= 2 and all(isinstance(v, int | float | str | bool) for v in values):
        plan.validation_curve = {"param": param, "values": values}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
