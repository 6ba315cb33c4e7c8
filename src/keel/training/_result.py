"""What ``keel.train`` returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.store import Run

__all__ = ["TrainingResult"]


@dataclass(frozen=True)
class TrainingResult:
    """The outcome of :func:`keel.train`.

    Attributes:
        run_id: the training run (its children are the search trials).
        experiment: the experiment name.
        task: ``classification``, ``regression``, ``clustering`` or ``decomposition``.
        model: the fitted model (refit on all training data with the best params).
        metrics: every metric logged on the run, by name (``cv.accuracy_mean``,
            ``test.accuracy``, ``fairness.demographic_parity_difference``...).
        best_params: the best params found by the search (empty without search).
        cv_scores: metric -> the per-fold values.
        model_card: the model card as plain data.
        datasets: the DatasetVersions trained and evaluated on.
        mitigated_model: the fairness-mitigated predictor, when mitigation was asked.
        explanation: the SHAP explanation of a sample, when computed.
    """

    run_id: str
    experiment: str
    task: str
    model: Any
    metrics: Mapping[str, float]
    best_params: Mapping[str, Any] = field(default_factory=dict)
    cv_scores: Mapping[str, list[float]] = field(default_factory=dict)
    model_card: Mapping[str, Any] = field(default_factory=dict)
    datasets: tuple[Any, ...] = ()
    mitigated_model: Any = None
    explanation: Any = None

    @property
    def id(self) -> str:
        """The run id (so a result can stand in for a run)."""
        return self.run_id

    @property
    def run(self) -> Run:
        """The run as stored now (params, metrics, tags)."""
        from keel.tracking import get_client

        return get_client().get_run(self.run_id)

    def __repr__(self) -> str:
        keys = [
            k for k in self.metrics if k.startswith(("cv.", "test.")) and not k.endswith("_std")
        ] or list(self.metrics)
        shown = {k: round(self.metrics[k], 4) for k in keys[:4]}
        return f"TrainingResult(run_id={self.run_id!r}, task={self.task!r}, metrics={shown})"
