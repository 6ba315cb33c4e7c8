"""keel: a self-hosted machine-learning platform in one ``pip install``.

The SDK feels like MLflow's::

    import keel

    with keel.start_run(experiment="iris", run_name="rf") as run:
        keel.log_params({"n_estimators": 100})
        keel.log_metric("accuracy", 0.96)

Everything here is imported lazily so ``import keel`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from keel._version import __version__

if TYPE_CHECKING:
    from keel.errors import KeelError as KeelError
    from keel.pipelines import Pipeline as Pipeline, step as step
    from keel.registry import log_model as log_model
    from keel.tracking import (
        ActiveRun as ActiveRun,
        Client as Client,
        active_run as active_run,
        end_run as end_run,
        log_artifact as log_artifact,
        log_artifacts as log_artifacts,
        log_dict as log_dict,
        log_figure as log_figure,
        log_input as log_input,
        log_metric as log_metric,
        log_metrics as log_metrics,
        log_param as log_param,
        log_params as log_params,
        log_text as log_text,
        search_runs as search_runs,
        set_tag as set_tag,
        set_tags as set_tags,
        start_run as start_run,
    )
    from keel.training import train as train

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ActiveRun": "keel.tracking",
    "Client": "keel.tracking",
    "KeelError": "keel.errors",
    "Pipeline": "keel.pipelines",
    "active_run": "keel.tracking",
    "end_run": "keel.tracking",
    "log_artifact": "keel.tracking",
    "log_artifacts": "keel.tracking",
    "log_dict": "keel.tracking",
    "log_figure": "keel.tracking",
    "log_input": "keel.tracking",
    "log_metric": "keel.tracking",
    "log_model": "keel.registry",
    "log_metrics": "keel.tracking",
    "log_param": "keel.tracking",
    "log_params": "keel.tracking",
    "log_text": "keel.tracking",
    "search_runs": "keel.tracking",
    "set_tag": "keel.tracking",
    "set_tags": "keel.tracking",
    "start_run": "keel.tracking",
    "step": "keel.pipelines",
    "train": "keel.training",
}

_SUBMODULES = ("datasets", "features", "governance", "models", "pipelines", "sklearn", "torch")

__all__ = ["__version__", *sorted(_EXPORTS), *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"keel.{name}")
    raise AttributeError(f"module 'keel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
