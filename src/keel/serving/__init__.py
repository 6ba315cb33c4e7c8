"""Model serving: one ASGI app for plain JSON, MLflow payloads and the Open Inference
Protocol, with ONNX Runtime, adaptive micro-batching, canary and shadow traffic,
explanations, feedback, Prometheus metrics, a prediction log, batch scoring, and the
stored Endpoint noun (:mod:`keel.serving.endpoints`).

Example::

    >>> import keel.serving
    >>> app = keel.serving.create_app("iris@champion")     # run it with uvicorn
    >>> keel.serving.endpoints.create({"name": "iris", "targets": [{"model": "iris@champion"}]})
    >>> app = keel.serving.create_app("iris")              # a stored endpoint, followed
    >>> keel.serving.read_prediction_log("iris", since="1h")
    >>> keel.serving.predict_file("iris@champion", "data.parquet", "scores.parquet")

The command line: ``keel serve iris@champion``, ``keel serve endpoint.yaml``,
``keel serve iris`` (stored), ``keel endpoints create|update|show|list|delete|log``,
``keel predict iris@champion --input data.parquet --output scores.parquet``.
See docs/guides/serving.md.
"""

from __future__ import annotations

from keel.serving._app import ServingApp
from keel.serving._batch import ScoringResult, predict_file
from keel.serving._batcher import MicroBatcher
from keel.serving._factory import create_app
from keel.serving._predlog import read_feedback, read_prediction_log
from keel.serving._spec import (
    BatchingSpec,
    EndpointSpec,
    LimitsSpec,
    ShadowSpec,
    TargetSpec,
    endpoint_from_ref,
    load_endpoint_specs,
)

from keel.serving import endpoints  # isort: skip - the facade over the modules above

__all__ = [
    "BatchingSpec",
    "EndpointSpec",
    "LimitsSpec",
    "MicroBatcher",
    "ScoringResult",
    "ServingApp",
    "ShadowSpec",
    "TargetSpec",
    "create_app",
    "endpoint_from_ref",
    "endpoints",
    "load_endpoint_specs",
    "predict_file",
    "read_feedback",
    "read_prediction_log",
]
