"""One training run's work, step by step: search, CV, refit, evaluate, explain, document.

The search step lives in :mod:`keel.training._tuning`, fairness and SHAP in
:mod:`keel.training._assess`; they work on the session's run and record into it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from keel._clock import now_ms
from keel.training._progress import TrainingProgress
from keel.training._result import TrainingResult

__all__ = ["TrainingSession"]


def _model_params(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in model.get_params(deep=True).items():
        if isinstance(value, bool | int | float | str) or value is None:
            out[f"model.{key}"] = value
        if len(out) >= 80:
            break
    return out


class TrainingSession:
    """Runs a :class:`~keel.training._plan.TrainingPlan` inside an active run."""

    def __init__(
        self,
        plan: Any,
        client: Any,
        run_id: str,
        run_name: str,
        progress: TrainingProgress | None = None,
    ) -> None:
        self.plan = plan
        self.progress = progress or TrainingProgress(enabled=False, label=plan.experiment)
        self.client = client
        self.run_id = run_id
        self.run_name = run_name
        self.metrics: dict[str, float] = {}
        self.cv_scores: dict[str, list[float]] = {}
        self.caveats: list[str] = []
        self.privacy_record: dict[str, Any] | None = None
        self.search_summary: dict[str, Any] | None = None
        self.search_outcome: Any = None
        self.fairness: dict[str, Any] | None = None
        self.explanation: Any = None
        self.mitigated: Any = None
        self._pending: list[Any] = []

    # -- logging helpers ------------------------------------------------------------

    def log_metrics(self, values: dict[str, float], step: int = 0) -> None:
        from keel.store import Metric

        now = now_ms()
        for key, value in values.items():
            if value is None or not math.isfinite(float(value)):
                continue
            self._pending.append(Metric(key, float(value), step, now))
            if step == 0:
                self.metrics[key] = float(value)

    def flush(self) -> None:
        if self._pending:
            self.client.log_batch(self.run_id, metrics=self._pending)
            self._pending = []

    def figure(self, fig: Any, name: str) -> None:
        self.client.log_figure(self.run_id, fig, f"plots/{name}.png")

    def bar_plot(self, values: Mapping[str, float], title: str, axis: str, name: str) -> None:
        """Log a bar chart of ``values`` (one bar per key) as ``plots/<name>.png``."""
        from keel.training._plots import bar_figure

        self.figure(bar_figure(list(values), list(values.values()), title, axis), name)

    # -- the steps --------------------------------------------------------------------

    def run(self) -> TrainingResult:
        """Every step of the plan, in order; returns what the run produced."""
        plan = self.plan
        self._log_params()
        model = plan.model
        if plan.search is not None:
            from keel.training._tuning import tune

            model = tune(self, model)
        if plan.privacy is not None:
            model = self._make_private(model)
        oof = self._cross_validate(model) if plan.splits is not None else None
        self.progress.stage("refit on all training rows")
        fitted = self._refit(model)
        self.flush()
        self._evaluate(fitted, oof)
        top, source = self._top_features(fitted)
        self.flush()
        if plan.log_model:
            self.progress.stage(
                "storing the model (and its ONNX export)" if plan.evaluate else "storing the model"
            )
            self._log_model(fitted)
        else:
            self.caveats.append(
                "The model was not stored (log_model=False): it cannot be registered or "
                "served from this run."
            )
        card = self._model_card(fitted, top, source)
        return TrainingResult(
            run_id=self.run_id,
            experiment=plan.experiment,
            task=plan.task,
            model=fitted,
            metrics=dict(self.metrics),
            best_params=dict(self.search_outcome.best_params) if self.search_outcome else {},
            cv_scores={k: list(v) for k, v in self.cv_scores.items()},
            model_card=card,
            datasets=tuple(d.dataset for d in (plan.train, plan.test) if d is not None),
            mitigated_model=self.mitigated,
            explanation=self.explanation,
        )

    def _log_params(self) -> None:
        plan = self.plan
        train = plan.train
        self.client.log_batch(
            self.run_id,
            params={
                "task": plan.task,
                "model": type(plan.model).__name__,
                "cv": _describe(plan.splitter),
                "metric": plan.metric,
                "n_rows": len(train.X),
                "n_features": len(train.features),
                "target": train.target,
                **_model_params(plan.model),
            },
        )

    def _make_private(self, model: Any) -> Any:
        from keel.responsible import make_private

        plan = self.plan
        model, self.privacy_record = make_private(model, plan.privacy, plan.train.X, plan.train.y)
        self.caveats.extend(self.privacy_record["caveats"])
        self.client.log_batch(
            self.run_id,
            params={
                "privacy.epsilon": plan.privacy.epsilon,
                "privacy.mechanism": self.privacy_record["mechanism"],
            },
        )
        self.log_metrics({"privacy.epsilon": plan.privacy.epsilon})
        return model

    def _evaluate(self, fitted: Any, oof: dict[str, Any] | None) -> None:
        """Plots, fairness and SHAP, on the evaluation set the plan allows."""
        from keel.training._assess import assess_fairness_of, explain_model

        plan = self.plan
        if not (plan.evaluate or plan.train.sensitive is not None):
            return
        eval_X, eval_y, eval_pred, eval_proba, eval_on = self._evaluation_set(fitted, oof)
        if plan.evaluate:
            from keel.training._report import log_plots

            log_plots(self, fitted, eval_X, eval_y, eval_pred, eval_proba, eval_on)
        if plan.train.sensitive is not None:
            self.progress.stage("fairness")
            assess_fairness_of(self, fitted, eval_y, eval_pred, eval_on)
        if plan.evaluate and plan.task in ("classification", "regression"):
            self.progress.stage("SHAP explanation")
            explain_model(self, fitted)

    def _cross_validate(self, model: Any) -> dict[str, Any]:
        """Per-fold metrics, mean and std; out-of-fold predictions for the plots."""
        import numpy as np
        from sklearn.base import clone

        from keel.training._evaluate import split_metrics

        plan = self.plan
        X, y = plan.train.X, plan.train.y
        n = len(X)
        oof_pred: Any = None
        oof_proba: Any = None
        covered = np.zeros(n, dtype=bool)
        n_folds = len(plan.splits)
        self.progress.stage(f"cross-validation: fold 1/{n_folds}", total=n_folds)
        for fold, (tr, va) in enumerate(plan.splits):
            fold_model = clone(model)
            fold_model.fit(X.iloc[tr], y.iloc[tr])
            values, pred, proba = split_metrics(
                plan.task, plan.metric_names, fold_model, X.iloc[va], y.iloc[va], plan.classes
            )
            for key, value in values.items():
                self.cv_scores.setdefault(key, []).append(value)
            self.log_metrics({f"cv_fold.{k}": v for k, v in values.items()}, step=fold)
            if plan.evaluate:
                if oof_pred is None:
                    oof_pred = np.empty(n, dtype=np.asarray(pred).dtype)
                oof_pred[va] = pred
                if (
                    proba is not None
                    and plan.classes is not None
                    and proba.shape[1] == len(plan.classes)
                ):
                    if oof_proba is None:
                        oof_proba = np.zeros((n, proba.shape[1]))
                    oof_proba[va] = proba
                covered[va] = True
            self.progress.advance(f"cross-validation: fold {min(fold + 2, n_folds)}/{n_folds}")
        for key, scores in self.cv_scores.items():
            self.log_metrics(
                {f"cv.{key}_mean": float(np.mean(scores)), f"cv.{key}_std": float(np.std(scores))}
            )
        return {"pred": oof_pred, "proba": oof_proba, "covered": covered}

    def _refit(self, model: Any) -> Any:
        from sklearn.base import clone

        from keel.training._evaluate import cluster_labels, cluster_space, split_metrics

        plan = self.plan
        fitted = clone(model)
        X, y = plan.train.X, plan.train.y
        if plan.task in ("classification", "regression"):
            fitted.fit(X, y)
            if plan.evaluate:
                values, _, _ = split_metrics(
                    plan.task, plan.metric_names, fitted, X, y, plan.classes
                )
                self.log_metrics({f"train.{k}": v for k, v in values.items()})
        else:
            fitted.fit(X)
            if plan.task == "clustering":
                from keel.training._metrics import clustering_metrics

                labels = cluster_labels(fitted, X)
                values = clustering_metrics(plan.metric_names, cluster_space(fitted, X), labels, y)
                self.log_metrics(values)
                n_clusters = len(set(labels.tolist()) - {-1})
                self.log_metrics(
                    {"n_clusters": n_clusters, "noise_fraction": float((labels == -1).mean())}
                )
        self._log_pca(fitted)
        history = getattr(fitted, "history_", None)
        if history:
            for epoch, row in enumerate(history):
                self.log_metrics(
                    {f"epoch.{k}": v for k, v in row.items() if k != "epoch"}, step=epoch
                )
            stopped = getattr(fitted, "best_epoch_", None)
            if stopped is not None:
                self.log_metrics({"best_epoch": stopped})
        if plan.test is not None and plan.task in ("classification", "regression"):
            values, _, _ = split_metrics(
                plan.task, plan.metric_names, fitted, plan.test.X, plan.test.y, plan.classes
            )
            self.log_metrics({f"test.{k}": v for k, v in values.items()})
        return fitted

    def _log_pca(self, fitted: Any) -> None:
        from keel.training._estimators import pca_steps

        for step in pca_steps(fitted):
            ratios = [float(r) for r in step.explained_variance_ratio_]
            for i, r in enumerate(ratios):
                self.log_metrics({"pca.explained_variance_ratio": r}, step=i)
            self.log_metrics(
                {
                    "pca.explained_variance_total": float(sum(ratios)),
                    "pca.n_components": len(ratios),
                }
            )
            if self.plan.evaluate:
                from keel.training._plots import explained_variance_figure

                self.figure(explained_variance_figure(ratios), "pca_explained_variance")
            break

    def _evaluation_set(self, fitted: Any, oof: dict[str, Any] | None) -> tuple[Any, ...]:
        """Where plots and fairness are computed: the test split, else the out-of-fold
        predictions, else the training data (in-sample, noted as a caveat)."""
        from keel.training._evaluate import predict_outputs

        plan = self.plan
        if plan.task not in ("classification", "regression"):
            return plan.train.X, plan.train.y, None, None, "train"
        if plan.test is not None:
            pred, proba = predict_outputs(fitted, plan.test.X, plan.task)
            return plan.test.X, plan.test.y, pred, proba, "test"
        if oof is not None and oof["pred"] is not None and oof["covered"].all():
            return plan.train.X, plan.train.y, oof["pred"], oof["proba"], "out_of_fold"
        pred, proba = predict_outputs(fitted, plan.train.X, plan.task)
        self.caveats.append(
            "Evaluated in-sample (no test split and no full CV coverage): scores are optimistic."
        )
        return plan.train.X, plan.train.y, pred, proba, "train"

    def _top_features(self, fitted: Any) -> tuple[list[tuple[str, float]], str | None]:
        if self.explanation is not None:
            return self.explanation.top_features(10), f"mean |SHAP| ({self.explanation.kind})"
        from keel.training._report import native_importance

        found = native_importance(fitted, self.plan.train.features)
        if found is None:
            return [], None
        names, values, source = found
        pairs = sorted(zip(names, values, strict=False), key=lambda kv: kv[1], reverse=True)
        return [(str(n), float(v)) for n, v in pairs[:10]], source

    def _log_model(self, fitted: Any) -> None:
        """Store the model as the run's ``model`` artifact, or raise: no run succeeds
        without the model it trained (unless the caller passed ``log_model=False``)."""
        from keel.errors import InvalidArgumentError
        from keel.training._errors import ModelNotStoredError
        from keel.training._persist import log_fitted_model

        try:
            descriptor = log_fitted_model(
                fitted, self.plan.train.X.head(5), self.run_id, self.client, onnx=self.plan.evaluate
            )
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if len(reason) > 500:
                reason = reason[:497] + "..."
            if isinstance(exc, InvalidArgumentError):
                fix = (
                    "use a model keel can store (a scikit-learn estimator skops can serialise, "
                    "XGBoost, LightGBM or keel.torch)"
                )
            else:
                fix = "check that the artifact root is writable (keel doctor checks it)"
            raise ModelNotStoredError(
                f"run {self.run_id}: the trained {type(fitted).__name__} could not be stored as "
                f"the run's model ({reason}); the run is marked FAILED. To fix: {fix}, or pass "
                "log_model=False to train without storing a model"
            ) from exc
        self.client.log_batch(self.run_id, tags={"keel.model.format": descriptor.get("format", "")})

    def _model_card(
        self, fitted: Any, top: list[tuple[str, float]], source: str | None
    ) -> dict[str, Any]:
        from keel.responsible import build_model_card, render_model_card
        from keel.training._estimators import class_path

        plan = self.plan
        cv = None
        if self.cv_scores:
            import numpy as np

            cv = {
                "splitter": _describe(plan.splitter),
                "folds": len(plan.splits or []),
                "summary": {
                    k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "folds": v}
                    for k, v in self.cv_scores.items()
                },
            }
        datasets = [_dataset(plan.train, "train")]
        if plan.test is not None:
            datasets.append(_dataset(plan.test, "test"))
        card = build_model_card(
            run_id=self.run_id,
            run_name=self.run_name,
            experiment=plan.experiment,
            model_class=class_path(fitted),
            task=plan.task,
            params={k[6:]: v for k, v in _model_params(fitted).items()},
            intended_use=plan.intended_use,
            datasets=datasets,
            metrics=self.metrics,
            cv=cv,
            fairness=self.fairness,
            top_features=top,
            feature_source=source,
            privacy=self.privacy_record,
            search=self.search_summary,
            caveats=self.caveats,
        )
        self.client.log_dict(self.run_id, card, "model_card.json")
        self.client.log_text(self.run_id, render_model_card(card), "model_card.md")
        return card


def _describe(splitter: Any) -> str:
    from keel.training._cv import describe_cv

    return describe_cv(splitter)


def _dataset(prepared: Any, role: str) -> dict[str, Any]:
    from keel.training._train import _dataset_info

    return _dataset_info(prepared, role)
