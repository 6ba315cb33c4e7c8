"""One training run's work, step by step: search, CV, refit, evaluate, explain, document."""

from __future__ import annotations

import math
import time
from typing import Any

from keel._clock import now_ms
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

    def __init__(self, plan: Any, client: Any, run_id: str, run_name: str) -> None:
        self.plan = plan
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

    # -- the steps --------------------------------------------------------------------

    def run(self, log_model: bool = True) -> TrainingResult:
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
        model = plan.model
        if plan.search is not None:
            model = self._search(model)
        if plan.privacy is not None:
            from keel.responsible import make_private

            model, self.privacy_record = make_private(model, plan.privacy, train.X, train.y)
            self.caveats.extend(self.privacy_record["caveats"])
            self.client.log_batch(
                self.run_id,
                params={
                    "privacy.epsilon": plan.privacy.epsilon,
                    "privacy.mechanism": self.privacy_record["mechanism"],
                },
            )
            self.log_metrics({"privacy.epsilon": plan.privacy.epsilon})
        oof = self._cross_validate(model) if plan.splits is not None else None
        fitted = self._refit(model)
        self.flush()
        needs_eval = plan.evaluate or train.sensitive is not None
        eval_X = eval_y = eval_pred = eval_proba = None
        eval_on = "none"
        if needs_eval:
            eval_X, eval_y, eval_pred, eval_proba, eval_on = self._evaluation_set(fitted, oof)
        if plan.evaluate:
            from keel.training._report import log_plots

            log_plots(self, fitted, eval_X, eval_y, eval_pred, eval_proba, eval_on)
        if train.sensitive is not None:
            self._fairness(fitted, eval_y, eval_pred, eval_on)
        if plan.evaluate and plan.task in ("classification", "regression"):
            self._explain(fitted)
        top, source = self._top_features(fitted)
        self.flush()
        if log_model:
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
            datasets=tuple(d.dataset for d in (train, plan.test) if d is not None),
            mitigated_model=self.mitigated,
            explanation=self.explanation,
        )

    def _search(self, model: Any) -> Any:
        from keel.training._estimators import set_n_jobs_default
        from keel.training._metrics import METRICS
        from keel.training._search import TrialJob, run_search

        plan = self.plan
        config = plan.search
        metric = config.metric or plan.metric
        job = TrialJob(
            storage_path="",
            study_name=f"keel-{self.run_id}",
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
            parent_run_id=self.run_id,
            store_uri=self.client.store_uri,
            artifact_root=self.client.artifact_root,
            deadline=time.time() + config.timeout if config.timeout else None,
            model_n_jobs=1 if config.n_jobs > 1 else None,
            classes=plan.classes,
        )
        self.flush()
        outcome = run_search(job, self.client)
        self.search_outcome = outcome
        self.client.log_batch(
            self.run_id,
            params={
                "search.method": config.method,
                "search.n_trials": outcome.n_trials,
                "search.n_jobs": config.n_jobs,
                "search.metric": metric,
                "search.executor": outcome.executor,
                **{f"best.{k}": v for k, v in outcome.best_params.items()},
            },
        )
        self.log_metrics(
            {
                f"search.best_{metric}": outcome.best_score,
                "search.n_complete": outcome.n_complete,
                "search.n_pruned": outcome.n_pruned,
                "search.n_failed": outcome.n_failed,
                "search.seconds": outcome.wall_seconds,
            }
        )
        for name, value in outcome.importances.items():
            self.log_metrics({f"search.importance.{name}": value})
        self.search_summary = {
            "method": config.method,
            "n_trials": outcome.n_trials,
            "n_pruned": outcome.n_pruned,
            "metric": metric,
            "best_score": outcome.best_score,
            "best_params": {k: _plain(v) for k, v in outcome.best_params.items()},
            "executor": outcome.executor,
        }
        self.client.log_dict(
            self.run_id,
            {
                **self.search_summary,
                "scores": outcome.scores,
                "importances": outcome.importances,
                "space": config.model_dump(mode="json")["space"],
            },
            "search/summary.json",
        )
        from keel.training._plots import bar_figure, history_figure

        self.figure(
            history_figure(outcome.scores, job.greater_is_better, metric), "optimization_history"
        )
        if outcome.importances:
            names = list(outcome.importances)
            self.figure(
                bar_figure(
                    names,
                    [outcome.importances[n] for n in names],
                    "Hyperparameter importance",
                    "importance (fANOVA)",
                ),
                "param_importances",
            )
        if plan.validation_curve is None and plan.evaluate and outcome.importances:
            from keel.training._plan import curve_values

            param = max(outcome.importances, key=lambda k: outcome.importances[k])
            values = curve_values(config.space[param])
            if len(values) >= 2 and all(isinstance(v, int | float | str | bool) for v in values):
                plan.validation_curve = {"param": param, "values": values}
        tuned = model.set_params(**outcome.best_params)
        set_n_jobs_default(tuned, None)
        return tuned

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

    def _fairness(self, fitted: Any, y_eval: Any, pred: Any, eval_on: str) -> None:
        from keel.responsible import assess_fairness, mitigate

        plan = self.plan
        if plan.task != "classification":
            self.caveats.append("Fairness metrics are only computed for classification.")
            return
        sensitive = plan.test.sensitive if eval_on == "test" else plan.train.sensitive
        report = assess_fairness(y_eval, pred, sensitive, plan.classes)
        self.log_metrics({f"fairness.{k}": v for k, v in report.metrics.items()})
        self.fairness = {**report.to_dict(), "evaluated_on": eval_on}
        if plan.mitigation is not None:
            from sklearn.metrics import accuracy_score, balanced_accuracy_score

            mitigated = mitigate(
                plan.mitigation,
                fitted,
                plan.train.X,
                plan.train.y,
                plan.train.sensitive,
                plan.classes,
            )
            X_eval = plan.test.X if eval_on == "test" else plan.train.X
            m_pred = mitigated.predict(X_eval, sensitive)
            after = assess_fairness(y_eval, m_pred, sensitive, plan.classes)
            quality = {
                "accuracy": float(accuracy_score(y_eval, m_pred)),
                "balanced_accuracy": float(balanced_accuracy_score(y_eval, m_pred)),
            }
            self.log_metrics({f"fairness.mitigated.{k}": v for k, v in after.metrics.items()})
            self.log_metrics({f"mitigated.{k}": v for k, v in quality.items()})
            self.mitigated = mitigated
            self.fairness["mitigated"] = {
                **plan.mitigation,
                "metrics": after.metrics,
                "quality": quality,
                "by_group": after.by_group,
            }
            self.client.log_batch(
                self.run_id,
                params={
                    "mitigation.method": plan.mitigation["method"],
                    "mitigation.constraint": plan.mitigation["constraint"],
                },
            )
            self.caveats.append(
                f"Mitigation ({plan.mitigation['method']}) changes predictions using the "
                "sensitive features at prediction time; the logged `model` artifact is the "
                "unmitigated model."
            )
            if eval_on != "test":
                self.caveats.append(
                    "Mitigation was evaluated on its own training data "
                    "(no test split): the improvement is optimistic."
                )
        self.client.log_dict(self.run_id, self.fairness, "fairness/report.json")
        if plan.evaluate:
            from keel.training._plots import bar_figure

            rates = report.by_group.get("selection_rate") or report.by_group.get("accuracy", {})
            title = "Selection rate" if "selection_rate" in report.by_group else "Accuracy"
            self.figure(
                bar_figure(
                    list(rates),
                    list(rates.values()),
                    f"{title} by {', '.join(report.sensitive_features)}",
                    title,
                ),
                "fairness_by_group",
            )

    def _explain(self, fitted: Any) -> None:
        import json

        from keel.responsible import explain
        from keel.responsible._explain import summary_figure
        from keel.training._plots import bar_figure

        X = self.plan.train.X
        try:
            explanation = explain(fitted, X, self.plan.task)
        except Exception as exc:
            self.caveats.append(f"SHAP explanation failed: {type(exc).__name__}: {exc}")
            return
        self.explanation = explanation
        for name, value in explanation.mean_abs.items():
            self.log_metrics({f"shap.mean_abs.{name}": value})
        background = X.sample(min(100, len(X)), random_state=0)
        self.client.log_text(
            self.run_id, background.to_json(orient="split", index=False), "explain/background.json"
        )
        self.client.log_text(
            self.run_id, json.dumps(explanation.recipe, indent=2), "explain/recipe.json"
        )
        self.client.log_dict(
            self.run_id,
            {"explainer": explanation.kind, "mean_abs_shap": explanation.mean_abs},
            "explain/global_importance.json",
        )
        names = list(explanation.mean_abs)
        self.figure(
            bar_figure(
                names,
                [explanation.mean_abs[n] for n in names],
                "SHAP global importance",
                "mean |SHAP value|",
            ),
            "shap_importance",
        )
        try:
            self.figure(summary_figure(explanation), "shap_summary")
        except Exception as exc:
            self.caveats.append(f"SHAP summary plot failed: {exc}")

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


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _dataset(prepared: Any, role: str) -> dict[str, Any]:
    from keel.training._train import _dataset_info

    return _dataset_info(prepared, role)
