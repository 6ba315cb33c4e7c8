"""scikit-learn integration: ``autolog()``, and models saved in skops format (no pickle)."""

from __future__ import annotations

from keel.sklearn._autolog import autolog
from keel.sklearn._persist import (
    DESCRIPTOR,
    dump_skops,
    input_example_payload,
    load_model,
    load_skops,
    log_model,
)

__all__ = [
    "DESCRIPTOR",
    "autolog",
    "dump_skops",
    "input_example_payload",
    "load_model",
    "load_skops",
    "log_model",
]
