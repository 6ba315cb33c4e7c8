"""JSON text for what travels between a keel server and its clients.

pydantic-core's encoder and parser (pydantic is a dependency already) are several times
faster than the standard library's on the lists of metrics and runs a server sends and
receives, and floats round-trip exactly, as with :mod:`json`. A non-finite float is
written the way keel's wire form writes it (:mod:`keel.store._wire`): as the string
``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, never as the non-standard JSON constants.

Example::

    >>> encode({"key": "loss", "value": 0.5})
    b'{"key":"loss","value":0.5}'
    >>> decode(_)
    {'key': 'loss', 'value': 0.5}
"""

from __future__ import annotations

from typing import Any

import pydantic_core

__all__ = ["decode", "encode"]


def encode(data: Any) -> bytes:
    """The compact UTF-8 JSON text of ``data`` (JSON values: dicts, lists, scalars).

    Raises:
        ValueError: ``data`` holds something that is not a JSON value.
    """
    try:
        return pydantic_core.to_json(data, inf_nan_mode="strings")
    except pydantic_core.PydanticSerializationError as exc:
        raise ValueError(f"not JSON data: {exc}") from None


def decode(text: bytes | str) -> Any:
    """The data of a JSON text.

    Raises:
        ValueError: ``text`` is not JSON.
    """
    return pydantic_core.from_json(text)
