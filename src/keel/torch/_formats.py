"""The ``keel_torch`` model format, registered into the model registry.

The registry imports this module by name the first time it loads a ``keel_torch``
model (``keel.registry._formats._INTEGRATION_FORMATS``); importing it registers the
format. Such models are written by :func:`keel.torch.log_model` (a state dict plus what
rebuilds the whole estimator), so the format has a loader and no saver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.errors import MissingExtraError
from keel.registry import register_format

__all__: list[str] = []


def _load(descriptor: Mapping[str, Any], data: bytes) -> Any:
    try:
        import torch  # noqa: F401 - fail with the extra to install, not deep in the loader
    except ImportError as exc:
        raise MissingExtraError.for_extra("torch", "torch") from exc
    from keel.torch._persist import estimator_from_state

    return estimator_from_state(dict(descriptor), data)


register_format("keel_torch", "torch", load=_load)
