"""Pipelines: ``@keel.step`` functions composed into a cached, lineage-tracked DAG.

Example::

    import keel
    import pandas as pd
    from keel.pipelines import SourceFile

    @keel.step
    def raw(path: SourceFile = "wine.csv") -> pd.DataFrame:
        return pd.read_csv(path)

    @keel.step(retries=2)
    def clean(raw: pd.DataFrame, min_alcohol: float = 0.0) -> pd.DataFrame:
        return raw[raw["alcohol"] >= min_alcohol].dropna()

    pipeline = keel.Pipeline("wine", [raw, clean])
    run = pipeline.run(params={"min_alcohol": "11.5"})
    print(run.step("clean").status, run.cache_hits)
"""

from __future__ import annotations

from keel.pipelines._load import load_output, load_pipeline
from keel.pipelines._pipeline import Dependency, Pipeline
from keel.pipelines._runner import PipelineFailedError, StepEvent
from keel.pipelines._step import ParamSpec, SourceFile, Step, code_hash, step
from keel.pipelines._values import StepOutputError

__all__ = [
    "Dependency",
    "ParamSpec",
    "Pipeline",
    "PipelineFailedError",
    "SourceFile",
    "Step",
    "StepEvent",
    "StepOutputError",
    "code_hash",
    "load_output",
    "load_pipeline",
    "step",
]
