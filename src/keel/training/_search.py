"""Hyperparameter search with Optuna: TPE (with pruning), random and grid sampling.

Every trial is a nested run under the training run. Trials run in parallel through
keel's local process executor (:class:`keel.compute.LocalProcessExecutor`, spawned
workers), which share one Optuna study through a ``JournalStorage`` on a file in a
temporary folder, so workers see each other's trials (TPE learns from all of them,
grid points are not repeated). Each worker opens its own keel Client on the same
store and artifact root. Scripts that search with ``n_jobs > 1`` need the usual
``if __name__ == "__main__":`` guard, as with any spawned process pool.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from keel._clock import now_ms
from keel.context import ContextSpec
from keel.training._errors import SearchFailedError
from keel.training._progress import ProgressFile, ProgressFileReader, SearchEvents
from keel.training._space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    LogParam,
    SearchConfig,
    grid_values,
)

__all__ = ["SearchOutcome", "TrialJob", "run_search"]

_PRIMITIVE = (bool, int, float, str, type(None))


@dataclass
class TrialJob:
    """Everything a worker needs to run its share of the trials."""

    storage_path: str
    study_name: str
    n_trials: int
    worker: int
    config: SearchConfig
    estimator: Any
    X: Any
    y: Any
    splits: list[tuple[Any, Any]] | None
    task: str
    metric: str
    greater_is_better: bool
    experiment: str
    parent_run_id: str
    context: ContextSpec | None  # the stores a worker process logs its trials to
    deadline: float | None
    model_n_jobs: int | None = None
    classes: Any = None
    progress_path: str | None = None  # where a worker appends its progress events


@dataclass
class SearchOutcome:
    """What the search found."""

    best_params: dict[str, Any]
    best_score: float
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    scores: list[float | None]
    importances: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    executor: str = "in-process"


def _choice_keys(choices: list[Any]) -> tuple[list[Any], bool]:
    if all(isinstance(c, _PRIMITIVE) for c in choices):
        return choices, False
    return [str(i) for i in range(len(choices))], True


def suggest(trial: Any, config: SearchConfig) -> dict[str, Any]:
    """Draw one value per parameter of the space from an Optuna trial."""
    params: dict[str, Any] = {}
    for name, spec in config.space.items():
        if isinstance(spec, IntParam):
            params[name] = trial.suggest_int(
                name, spec.low, spec.high, step=spec.step, log=spec.log
            )
        elif isinstance(spec, FloatParam):
            params[name] = trial.suggest_float(
                name, spec.low, spec.high, step=spec.step, log=spec.log
            )
        elif isinstance(spec, LogParam):
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=True)
        elif isinstance(spec, CategoricalParam):
            keys, indexed = _choice_keys(spec.choices)
            key = trial.suggest_categorical(name, keys)
            params[name] = spec.choices[int(key)] if indexed else key
    return params


def decode_params(config: SearchConfig, raw: dict[str, Any]) -> dict[str, Any]:
    """Map an Optuna trial's stored params back to estimator values."""
    out = dict(raw)
    for name, spec in config.space.items():
        if isinstance(spec, CategoricalParam) and name in out:
            _, indexed = _choice_keys(spec.choices)
            if indexed:
                out[name] = spec.choices[int(out[name])]
    return out


def _sampler(config: SearchConfig, seed: int) -> Any:
    import optuna

    if config.method == "grid":
        grid = {}
        for name, spec in config.space.items():
            values = grid_values(name, spec)
            grid[name] = _choice_keys(values)[0] if isinstance(spec, CategoricalParam) else values
        return optuna.samplers.GridSampler(grid, seed=seed)
    if config.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, config.trials() // 3 + 1))


def _pruner(config: SearchConfig) -> Any:
    import optuna

    if config.method == "tpe" and config.pruning:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def _storage(path: str) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(path))


def _objective(job: TrialJob, client: Any, events: SearchEvents | None) -> Any:
    import optuna
    from sklearn.base import clone

    from keel.store import Metric, RunStatus
    from keel.training._estimators import set_n_jobs_default
    from keel.training._evaluate import split_metrics

    def objective(trial: Any) -> float:
        if job.deadline is not None and time.time() > job.deadline:
            trial.study.stop()
            raise optuna.TrialPruned("timeout reached")
        params = suggest(trial, job.config)
        run = client.create_run(
            job.experiment,
            run_name=f"trial-{trial.number}",
            parent_run_id=job.parent_run_id,
            tags={"keel.trial.number": trial.number, "keel.search.method": job.config.method},
        )
        trial.set_user_attr("run_id", run.id)
        now = now_ms()
        try:
            client.log_batch(run.id, params=params)
            scores: list[float] = []
            steps = job.splits if job.splits is not None else [(None, None)]
            for fold, (tr, va) in enumerate(steps):
                model = clone(job.estimator).set_params(**params)
                set_n_jobs_default(model, job.model_n_jobs)
                if tr is None:  # clustering: fit and score on all rows
                    model.fit(job.X)
                    values, _, _ = split_metrics(job.task, [job.metric], model, job.X, job.y)
                else:
                    y_tr = job.y.iloc[tr]
                    model.fit(job.X.iloc[tr], y_tr)
                    values, _, _ = split_metrics(
                        job.task, [job.metric], model, job.X.iloc[va], job.y.iloc[va], job.classes
                    )
                score = values.get(job.metric, math.nan)
                scores.append(score)
                mean = float(sum(scores) / len(scores))
                client.log_batch(
                    run.id, metrics=[Metric(f"cv_fold.{job.metric}", score, fold, now)]
                )
                trial.report(mean, fold)
                if events is not None:
                    events.fold_done(trial.number, fold)
                if trial.should_prune():
                    client.log_batch(run.id, tags={"keel.trial.state": "pruned"})
                    client.end_run(run.id, RunStatus.FINISHED)
                    raise optuna.TrialPruned(f"pruned after fold {fold}")
            mean = float(sum(scores) / len(scores))
            std = float((sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5)
            client.log_batch(
                run.id,
                metrics=[
                    Metric(f"cv.{job.metric}_mean", mean, 0, now),
                    Metric(f"cv.{job.metric}_std", std, 0, now),
                ],
                tags={"keel.trial.state": "complete"},
            )
            client.end_run(run.id, RunStatus.FINISHED)
            if not math.isfinite(mean):
                raise ValueError(f"metric {job.metric} could not be computed for {params}")
            return mean
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            import traceback

            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            client.end_run(run.id, RunStatus.FAILED, error=traceback.format_exc()[-20000:])
            raise

    return objective


def run_trials(job: TrialJob, client: Any = None, events: SearchEvents | None = None) -> int:
    """Run ``job.n_trials`` trials of the shared study; returns how many ran.

    Called in a worker process (with ``client=None``: it opens its own, and reports its
    progress to ``job.progress_path`` when set), or in-process (reporting to ``events``).
    """
    import optuna

    from keel.context import Context
    from keel.tracking import Client

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    own = client is None
    context = None
    if own:
        context = Context.from_spec(job.context) if job.context is not None else Context()
        client = Client(context=context)
    if events is None and job.progress_path is not None:
        events = ProgressFile(job.progress_path)
    callbacks = [] if events is None else [_trial_ended(events)]
    try:
        study = optuna.load_study(
            study_name=job.study_name,
            storage=_storage(job.storage_path),
            sampler=_sampler(job.config, job.config.random_state + job.worker),
            pruner=_pruner(job.config),
        )
        before = len(study.trials)
        limits: Any = contextlib.nullcontext()
        if job.model_n_jobs is not None:
            # parallel workers share the cores: one BLAS/OpenMP thread each
            from threadpoolctl import threadpool_limits

            limits = threadpool_limits(limits=job.model_n_jobs)
        with limits:
            study.optimize(
                _objective(job, client, events),
                n_trials=job.n_trials,
                catch=(Exception,),
                callbacks=callbacks,
                gc_after_trial=False,
            )
        return len(study.trials) - before
    finally:
        if own:
            try:
                client.close()
            finally:
                if context is not None:
                    context.close()


def _trial_ended(events: SearchEvents) -> Any:
    def callback(study: Any, trial: Any) -> None:
        events.trial_done(trial.number, trial.state.name.lower())

    return callback


def _param_importances(study: Any) -> dict[str, float]:
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 3 or not complete[0].params:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # fANOVA warns when every trial scores the same: the importances are then equal
            warnings.filterwarnings(
                "ignore", message="Target and region quantiles", category=UserWarning
            )
            raw = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {str(k): float(v) for k, v in raw.items()}


def _run_workers(jobs: list[TrialJob], progress_path: str, events: SearchEvents | None) -> None:
    """Run each job in a worker process; pass their progress events on while waiting."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from keel.compute import LocalProcessExecutor

    reader = None
    if events is not None:
        reader = ProgressFileReader(progress_path, events)
        jobs = [TrialJob(**{**job.__dict__, "progress_path": progress_path}) for job in jobs]
    with LocalProcessExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run_trials, job) for job in jobs]
        pending = set(futures)
        while pending:
            # wake up for each worker that ends, and a few times a second to show progress
            timeout = None if reader is None else 0.2
            _, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if reader is not None:
                reader.poll()
        for future in futures:
            future.result()


def _no_trial_completed(trials: list[Any], config: SearchConfig) -> SearchFailedError:
    """The error for a search without a single complete trial: what happened, what to do."""
    import optuna

    states = optuna.trial.TrialState
    failed = [t for t in trials if t.state == states.FAIL]
    n_pruned = sum(t.state == states.PRUNED for t in trials)
    head = (
        f"none of the {len(trials)} search trials completed ({len(failed)} failed, "
        f"{n_pruned} pruned), so there is no best model to refit"
    )
    if failed:
        first = failed[0]
        where = f"trial-{first.number}"
        if "run_id" in first.user_attrs:
            where += f", run {first.user_attrs['run_id']}"
        reason = str(first.user_attrs.get("error", "unknown error"))
        if len(reason) > 500:
            reason = reason[:497] + "..."
        return SearchFailedError(
            f"{head}; first failure ({where}): {reason}. Fix the search space or the model so "
            "a trial can fit; each failed trial's run holds its traceback (keel runs show ID)"
        )
    limit = f"the timeout of {config.timeout:g} s" if config.timeout else "pruning"
    return SearchFailedError(
        f"{head}: every trial was stopped by {limit}; give the search more time (timeout) "
        "or trials (n_trials)"
    )


def run_search(base: TrialJob, client: Any, events: SearchEvents | None = None) -> SearchOutcome:
    """Create the study, run its trials on ``n_jobs`` workers, and summarise it.

    ``events`` hears of every fold and trial, from the workers too.

    Raises:
        SearchFailedError: no trial completed (the first failure is quoted).
    """
    try:
        import optuna
    except ImportError as exc:
        from keel.errors import MissingExtraError

        raise MissingExtraError.for_extra("optuna", "training") from exc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = base.config
    total = config.trials()
    n_workers = max(1, min(config.n_jobs, total))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="keel-search-") as tmp:
        path = str(Path(tmp) / "journal.log")
        direction: Literal["maximize", "minimize"] = (
            "maximize" if base.greater_is_better else "minimize"
        )
        optuna.create_study(study_name=base.study_name, storage=_storage(path), direction=direction)
        shares = [
            total // n_workers + (1 if i < total % n_workers else 0) for i in range(n_workers)
        ]
        jobs = [
            TrialJob(**{**base.__dict__, "storage_path": path, "n_trials": n, "worker": i})
            for i, n in enumerate(shares)
        ]
        if n_workers == 1:
            run_trials(jobs[0], client, events)
            executor = "in-process"
        else:
            client.flush()
            _run_workers(jobs, str(Path(tmp) / "progress.jsonl"), events)
            executor = f"keel.compute.LocalProcessExecutor({n_workers})"
        study = optuna.load_study(study_name=base.study_name, storage=_storage(path))
        states = optuna.trial.TrialState
        trials = sorted(study.trials, key=lambda t: t.number)
        complete = [t for t in trials if t.state == states.COMPLETE]
        if not complete:
            raise _no_trial_completed(trials, config)
        outcome = SearchOutcome(
            best_params=decode_params(config, study.best_trial.params),
            best_score=float(study.best_value),
            n_trials=len(trials),
            n_complete=len(complete),
            n_pruned=sum(t.state == states.PRUNED for t in trials),
            n_failed=sum(t.state == states.FAIL for t in trials),
            scores=[t.value if t.state == states.COMPLETE else None for t in trials],
            importances=_param_importances(study),
            wall_seconds=time.perf_counter() - started,
            executor=executor,
        )
    return outcome
