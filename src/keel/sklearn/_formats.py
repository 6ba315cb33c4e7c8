"""The ``skops`` model format, registered into the model registry.

The registry imports this module by name the first time it saves or loads a skops
model (``keel.registry._formats._INTEGRATION_FORMATS``); importing it registers the
format. scikit-learn-API estimators are saved with skops, trusting at load time exactly
the types recorded at save time (:func:`keel.sklearn.dump_skops`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.registry import SavedModel, register_format
from keel.sklearn._persist import dump_skops, load_skops

__all__: list[str] = []


def _save(model: Any, options: Mapping[str, Any]) -> SavedModel:
    data, trusted = dump_skops(model)
    return SavedModel("sklearn", "skops", "model.skops", data, {"trusted_types": trusted})


def _load(descriptor: Mapping[str, Any], data: bytes) -> Any:
    return load_skops(data, list(descriptor.get("trusted_types", [])))


register_format("skops", "sklearn", save=_save, load=_load)
