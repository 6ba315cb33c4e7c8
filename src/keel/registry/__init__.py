"""The model registry: models in safe formats, numbered versions, signatures and lineage.

Example::

    >>> with keel.start_run(experiment="iris"):
    ...     keel.log_model(model, name="iris", input_example=X.head(5))
    >>> model = keel.models.load("iris@latest")
"""

from __future__ import annotations

from keel.registry._formats import (
    FORMATS,
    LightGBMModel,
    ModelFormat,
    SavedModel,
    UnsafeFormatError,
    get_format,
    register_format,
)
from keel.registry._lineage import ModelLineage, model_lineage
from keel.registry._load import (
    get_version,
    load,
    load_input_example,
    load_version,
    read_checked_files,
    read_files,
)
from keel.registry._manage import alias_history, archive, list_models, list_versions
from keel.registry._onnx import DEFAULT_TOLERANCE, onnx_session
from keel.registry._register import DESCRIPTOR, LoggedModel, log_model, register
from keel.registry._signature import infer_signature
from keel.registry._uri import ModelRef, parse_model_ref, parse_model_uri, resolve_version

__all__ = [
    "DEFAULT_TOLERANCE",
    "DESCRIPTOR",
    "FORMATS",
    "LightGBMModel",
    "LoggedModel",
    "ModelFormat",
    "ModelLineage",
    "ModelRef",
    "SavedModel",
    "UnsafeFormatError",
    "alias_history",
    "archive",
    "get_format",
    "get_version",
    "infer_signature",
    "list_models",
    "list_versions",
    "load",
    "load_input_example",
    "load_version",
    "log_model",
    "model_lineage",
    "onnx_session",
    "parse_model_ref",
    "parse_model_uri",
    "read_checked_files",
    "read_files",
    "register",
    "register_format",
    "resolve_version",
]
