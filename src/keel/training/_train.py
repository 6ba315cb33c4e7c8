"""``keel.train``: cross-validate, search, refit, evaluate, explain and document a model."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from keel.training._result import TrainingResult

__all__ = ["train"]


def train(
    model: Any,
    data: Any,
    target: str | None = None,
    features: Sequence[str] | None = None,
    task: str = "auto",
    cv: Any = 5,
    search: Mapping[str, Any] | None = None,
    sensitive_features: str | Sequence[str] | None = None,
    privacy: Mapping[str, Any] | None = None,
    test_data: Any = None,
    experiment: str | None = None,
    run_name: str | None = None,
    evaluation: bool | Sequence[str] = True,
    intended_use: str | Mapping[str, Any] | None = None,
    *,
    metric: str | None = None,
    mitigation: str | Mapping[str, Any] | None = None,
    validation_curve: str | Mapping[str, Any] | None = None,
    dataset_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    log_model: bool = True,
    progress: bool | None = None,
) -> TrainingResult:
    """Train a model with everything recorded in one run.

    Cross-validates (per-fold metrics, mean and std), optionally searches
    hyperparameters first (each trial a nested run), refits on all the training data,
    evaluates on ``test_data``, and logs plots, fairness, SHAP explanations, the model
    and a model card. Every input is checked before anything is written: bad input
    raises :class:`~keel.training.TrainingInputError` and leaves no run and no dataset
    behind. An error during training itself marks the run FAILED with the traceback.

    Args:
        model: an unfitted scikit-learn-API estimator or Pipeline (XGBoost, LightGBM,
            ``keel.torch`` estimators included); KMeans/DBSCAN/PCA for unsupervised work.
        data: a DataFrame (registered as a dataset version on the fly), a
            DatasetVersion, or a dataset reference ``"name"`` / ``"name/3"``.
        target: the target column (classification, regression; optional for
            clustering, where it gives the adjusted Rand index).
        features: feature columns; default all but the target, sensitive and group
            columns.
        task: ``auto`` (from the estimator), ``classification``, ``regression``,
            ``clustering`` or ``decomposition``.
        cv: folds (int), a dict ``{"type": "kfold"|"stratified"|"group"|
            "stratified_group"|"timeseries", "n_splits": 5, "groups": "<col>"}``, a
            scikit-learn splitter, or ``None`` for no cross-validation.
        search: hyperparameter search, e.g. ``{"method": "tpe", "n_trials": 30,
            "n_jobs": 2, "space": {"max_depth": {"type": "int", "low": 2, "high": 10}}}``
            (see :class:`~keel.training.SearchConfig`).
        sensitive_features: column(s) to assess fairness over (left out of the
            features unless ``features`` names them).
        privacy: ``{"epsilon": 1.0, ...}`` to train with diffprivlib's private
            counterpart of the model (see :class:`~keel.responsible.PrivacyConfig`).
        test_data: held-out data (same forms as ``data``) evaluated after the refit.
        experiment: experiment name (``KEEL_EXPERIMENT`` or ``"default"``).
        run_name: the run's name.
        evaluation: ``True`` for every metric of the task, plots and SHAP; ``False``
            for the optimised metric only (no plots, no SHAP); or a list of metric names.
        intended_use: text or ``{"purpose": ..., "users": ..., "out_of_scope": ...}``
            for the model card.
        metric: the metric to optimise and report first (default: accuracy, rmse,
            silhouette by task).
        mitigation: ``"threshold_optimizer"``, ``"exponentiated_gradient"`` or
            ``{"method": ..., "constraint": "demographic_parity"|"equalized_odds"}``.
        validation_curve: a parameter name (values from the search space) or
            ``{"param": name, "values": [...]}``; defaults to the most important
            searched parameter.
        dataset_name: name to register a DataFrame under (default ``<experiment>-train``).
        tags: extra tags for the run.
        log_model: store the fitted model as the run's ``model`` artifact (the
            default). When it cannot be stored the run fails; ``False`` trains without
            storing one (the model card says so).
        progress: ``None`` (default) follows the ``progress`` setting
            (``KEEL_PROGRESS``): a live progress line on stderr when it is a terminal,
            and one line naming the run when it ends. ``True`` always shows both;
            ``False`` prints nothing.

    Returns:
        A :class:`TrainingResult` (run id, fitted model, metrics, model card).

    Raises:
        TrainingInputError: a column is missing, the target has NaN or a single class,
            fewer rows than folds, non-numeric features without preprocessing, an
            unknown metric or search-space type...
        PrivacyError: the model has no differentially private counterpart.
        SearchFailedError: no search trial completed (the run is marked FAILED).
        ModelNotStoredError: the trained model could not be stored (the run is marked
            FAILED); pass ``log_model=False`` to train without storing it.

    Example::

        >>> from sklearn.ensemble import RandomForestClassifier
        >>> result = keel.train(RandomForestClassifier(), iris_df, target="species",
        ...                     experiment="iris", cv=5)
        >>> result.metrics["cv.accuracy_mean"]
        0.95
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from keel.training._plan import TrainRequest, make_plan

    request = TrainRequest(
        model=model,
        data=data,
        target=target,
        features=features,
        task=task,
        cv=cv,
        search=search,
        sensitive_features=sensitive_features,
        privacy=privacy,
        test_data=test_data,
        experiment=experiment,
        run_name=run_name,
        evaluation=evaluation,
        intended_use=intended_use,
        metric=metric,
        mitigation=mitigation,
        validation_curve=validation_curve,
        dataset_name=dataset_name,
        tags=tags,
        log_model=log_model,
    )
    return _execute(make_plan(request), progress)


def _register(prepared: Any, name: str) -> Any:
    if prepared.dataset is not None:
        return prepared.dataset
    from keel.data import register

    return register(prepared.frame, name=name)


def _dataset_info(prepared: Any, role: str) -> dict[str, Any]:
    ds = prepared.dataset
    info: dict[str, Any] = {
        "role": role,
        "rows": len(prepared.frame),
        "schema": {str(c): str(t) for c, t in prepared.frame.dtypes.items()},
        "target": prepared.target,
        "features": list(prepared.features),
    }
    if ds is not None:
        info.update(
            {
                "name": getattr(ds, "name", ""),
                "version": getattr(ds, "version", ""),
                "id": getattr(ds, "id", ""),
            }
        )
    return info


def _execute(plan: Any, progress: bool | None) -> TrainingResult:
    from keel._terminal import announce_run_end, terminal_output
    from keel.tracking import active_run, get_client, start_run
    from keel.training._estimators import class_path
    from keel.training._progress import TrainingProgress
    from keel.training._session import TrainingSession

    client = get_client()
    output = terminal_output(progress, client.settings.progress)
    tags = {
        "keel.training.task": plan.task,
        "keel.model.class": class_path(plan.model),
        **plan.tags,
    }
    run_id: str | None = None
    try:
        with TrainingProgress(output.live, plan.experiment) as bar:
            bar.stage("registering the data")
            plan.train.dataset = _register(plan.train, plan.dataset_name)
            if plan.test is not None:
                plan.test.dataset = _register(plan.test, plan.test_dataset_name)
            with start_run(
                experiment=plan.experiment,
                run_name=plan.run_name,
                tags=tags,
                nested=active_run() is not None,
            ) as run:
                run_id = run.id
                if plan.train.dataset is not None:
                    client.log_input(run.id, plan.train.dataset, "trained_on")
                if plan.test is not None and plan.test.dataset is not None:
                    client.log_input(run.id, plan.test.dataset, "evaluated_on")
                session = TrainingSession(plan, client, run.id, run.info.name, bar)
                started = time.perf_counter()
                result = session.run()
                session.log_metrics({"train_seconds": time.perf_counter() - started})
                session.flush()
    finally:
        # after the progress line has stopped, so this line comes last
        if run_id is not None and output.announce:
            announce_run_end(client, run_id)
    return result
