"""Experiment tracking: runs with params, metric series, tags and artifacts."""

from __future__ import annotations

from keel.tracking._buffer import MetricsNotStoredError, UnstoredMetrics
from keel.tracking._client import Client, runs_to_frame
from keel.tracking._fluent import (
    ActiveRun,
    active_run,
    end_run,
    get_client,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    search_runs,
    set_client,
    set_tag,
    set_tags,
    start_run,
)

__all__ = [
    "ActiveRun",
    "Client",
    "MetricsNotStoredError",
    "UnstoredMetrics",
    "active_run",
    "end_run",
    "get_client",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "runs_to_frame",
    "search_runs",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
]
