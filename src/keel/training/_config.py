"""``keel train CONFIG.yaml``: a training run declared in YAML, validated strictly.

Example config::

    experiment: iris
    run_name: rf-search
    model:
      class: sklearn.ensemble.RandomForestClassifier
      params: {n_estimators: 100, random_state: 0}
    data: iris.csv            # a CSV/Parquet file (relative to this file) or a dataset "name/3"
    target: species
    cv: {type: stratified, n_splits: 5}
    search:
      method: tpe
      n_trials: 20
      space:
        max_depth: {type: int, low: 2, high: 10}
    intended_use: Teaching example; not for botanical decisions.

A Pipeline is a list of steps: ``model: {pipeline: [{class: ...}, {class: ..., params: ...}]}``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.errors import ConfigError
from keel.training._errors import TrainingInputError

__all__ = ["ModelSpec", "TrainConfig", "load_train_config", "train_from_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StepSpec(_Strict):
    """One estimator: its import path and constructor params."""

    class_: str = Field(alias="class", pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
    params: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None


class ModelSpec(_Strict):
    """An estimator (``class`` + ``params``) or a ``pipeline`` of them."""

    class_: str | None = Field(None, alias="class", pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
    params: dict[str, Any] = Field(default_factory=dict)
    pipeline: list[StepSpec] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ModelSpec:
        if (self.class_ is None) == (self.pipeline is None):
            raise ValueError("give exactly one of 'class' (with 'params') or 'pipeline'")
        return self


class TrainConfig(_Strict):
    """The YAML file of ``keel train``; every key mirrors an argument of ``keel.train``."""

    model: ModelSpec
    data: str
    target: str | None = None
    features: list[str] | None = None
    task: str = "auto"
    cv: int | dict[str, Any] | None = 5
    search: dict[str, Any] | None = None
    sensitive_features: list[str] | str | None = None
    privacy: dict[str, Any] | None = None
    mitigation: str | dict[str, Any] | None = None
    test_data: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    evaluation: bool | list[str] = True
    metric: str | None = None
    validation_curve: str | dict[str, Any] | None = None
    intended_use: str | dict[str, Any] | None = None
    dataset_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    log_model: bool = True


def _import_class(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TrainingInputError(
            f"model class {path!r}: cannot import module {module_name!r} ({exc})"
        ) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise TrainingInputError(f"model class {path!r}: {module_name} has no class {attr!r}")
    return cls


def _build_one(path: str, params: Mapping[str, Any]) -> Any:
    cls = _import_class(path)
    try:
        return cls(**params)
    except TypeError as exc:
        raise TrainingInputError(
            f"model class {path!r} rejects params {dict(params)}: {exc}"
        ) from None


def build_model(spec: ModelSpec) -> Any:
    """The unfitted estimator (or Pipeline) a :class:`ModelSpec` describes."""
    if spec.class_ is not None:
        return _build_one(spec.class_, spec.params)
    from sklearn.pipeline import Pipeline

    steps: list[tuple[str, Any]] = []
    for i, step in enumerate(spec.pipeline or []):
        name = step.name or step.class_.rsplit(".", 1)[-1].lower()
        if any(name == s[0] for s in steps):
            name = f"{name}_{i}"
        steps.append((name, _build_one(step.class_, step.params)))
    return Pipeline(steps)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a training YAML file.

    Raises:
        ConfigError: the file is missing, not YAML, or has unknown/invalid keys.
    """
    import yaml

    from keel._yaml import describe_yaml_error

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"training config {str(file)!r} does not exist")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"training config {str(file)!r} is not valid YAML ({describe_yaml_error(exc)}); "
            "fix that line"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"training config {str(file)!r} must be a mapping of keys to values")
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise ConfigError(f"training config {str(file)!r} is invalid: {problems}") from None


def _data(value: str, base: Path) -> Any:
    candidate = Path(value) if Path(value).is_absolute() else base / value
    suffix = candidate.suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        if not candidate.is_file():
            raise TrainingInputError(f"data file {str(candidate)!r} does not exist")
        import pandas as pd

        return pd.read_csv(candidate) if suffix == ".csv" else pd.read_parquet(candidate)
    return value  # a dataset reference


def train_from_config(
    config: TrainConfig | str | Path,
    base_dir: str | Path | None = None,
    *,
    progress: bool | None = None,
) -> Any:
    """Run ``keel.train`` as a config describes; file paths are relative to ``base_dir``
    (the config file's folder when a path is given). ``progress`` is ``keel.train``'s.

    Example::

        >>> result = train_from_config("train.yaml")
    """
    from keel.training._train import train

    if not isinstance(config, TrainConfig):
        base = Path(config).resolve().parent
        config = load_train_config(config)
    else:
        base = Path(base_dir or ".")
    if base_dir is not None:
        base = Path(base_dir)
    return train(
        build_model(config.model),
        _data(config.data, base),
        target=config.target,
        features=config.features,
        task=config.task,
        cv=config.cv,
        search=config.search,
        sensitive_features=config.sensitive_features,
        privacy=config.privacy,
        test_data=_data(config.test_data, base) if config.test_data else None,
        experiment=config.experiment,
        run_name=config.run_name,
        evaluation=config.evaluation,
        intended_use=config.intended_use,
        metric=config.metric,
        mitigation=config.mitigation,
        validation_curve=config.validation_curve,
        dataset_name=config.dataset_name,
        tags=config.tags,
        log_model=config.log_model,
        progress=progress,
    )
