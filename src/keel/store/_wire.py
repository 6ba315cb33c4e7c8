"""The JSON form of store entities, shared by the server and the REST store.

The domain entities are frozen dataclasses; on the wire they are JSON objects with the
same field names. :func:`to_wire` turns any value built from entities, enums, mappings,
sequences and scalars into JSON-ready data, and :func:`from_wire` rebuilds a value of a
given type from it, driven by the type hints, so a round trip gives back an equal value.

JSON has no NaN or infinities, and metrics have them: a non-finite float is written as
the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` and read back as the float.

Example::

    >>> from keel.store import Metric
    >>> to_wire(Metric("loss", float("nan"), 0, 1))
    {'key': 'loss', 'value': 'NaN', 'step': 0, 'timestamp': 1}
    >>> from_wire(Metric, _)
    Metric(key='loss', value=nan, step=0, timestamp=1)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from keel.errors import InvalidArgumentError

__all__ = ["from_wire", "to_wire"]

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _float_to_wire(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def to_wire(value: Any) -> Any:
    """JSON-ready data for ``value`` (entities become objects, enums their values)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return _float_to_wire(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in _fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire(v) for v in value]
    if isinstance(value, float):  # numpy floats and other float subclasses
        return _float_to_wire(float(value))
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy scalar
        return to_wire(value.item())
    raise InvalidArgumentError(
        f"{type(value).__name__} value {_shown(value)} has no JSON form; send numbers, text, "
        "booleans, lists and mappings of them (JSON values)"
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.init)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fail(tp: Any, data: Any, where: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where or 'value'}: expected {_name(tp)}, got {_shown(data)}")


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def from_wire(tp: Any, data: Any, where: str = "") -> Any:
    """Rebuild a value of type ``tp`` from its wire form.

    Args:
        tp: the target type: an entity dataclass, an enum, ``list[...]``,
            ``tuple[...]``, ``Mapping[...]``, a union with ``None``, a scalar or ``Any``.
        data: what :func:`to_wire` produced (or a client sent).
        where: the field path, for error messages.

    Raises:
        InvalidArgumentError: ``data`` does not fit ``tp`` (names the field).
    """
    if tp is Any or tp is object:
        return data
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors: list[InvalidArgumentError] = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return from_wire(arg, data, where)
            except InvalidArgumentError as exc:
                errors.append(exc)
        raise errors[0] if errors else _fail(tp, data, where)
    if origin is not None:
        return _from_generic(tp, origin, data, where)
    if tp is float:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
        if isinstance(data, str) and data in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[data]
        raise _fail(tp, data, where)
    if tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise _fail(tp, data, where)
    if tp is str:
        if isinstance(data, str):
            return data
        raise _fail(tp, data, where)
    if tp is bool:
        if isinstance(data, bool):
            return data
        raise _fail(tp, data, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise InvalidArgumentError(
                f"{where or 'value'}: {data!r} is not one of {allowed}"
            ) from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _from_dataclass(tp, data, where)
    if tp is type(None):
        if data is None:
            return None
        raise _fail(tp, data, where)
    raise TypeError(f"from_wire cannot build {tp!r}")  # a programming error, not input


def _from_generic(tp: Any, origin: Any, data: Any, where: str) -> Any:
    args = typing.get_args(tp)
    if origin in (list, tuple, set, frozenset, Sequence) or origin is typing.Sequence:
        if not isinstance(data, list):
            raise _fail(tp, data, where)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(data):
                raise _fail(tp, data, where)
            return tuple(
                from_wire(a, d, f"{where}[{i}]")
                for i, (a, d) in enumerate(zip(args, data, strict=True))
            )
        item = args[0] if args else Any
        items = [from_wire(item, d, f"{where}[{i}]") for i, d in enumerate(data)]
        if origin is tuple:
            return tuple(items)
        if origin in (set, frozenset):
            return origin(items)
        return items
    if origin in (dict, Mapping) or origin is typing.Mapping:
        if not isinstance(data, dict):
            raise _fail(tp, data, where)
        key_t, value_t = args if args else (Any, Any)
        return {
            from_wire(key_t, k, where): from_wire(value_t, v, f"{where}.{k}")
            for k, v in data.items()
        }
    if origin is typing.Literal:
        if data in args:
            return data
        raise _fail(tp, data, where)
    raise TypeError(f"from_wire cannot build {tp!r}")


def _from_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(cls, data, where)
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in _fields(cls):
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            values[f.name] = from_wire(hints[f.name], data[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InvalidArgumentError(f"{path}: this field is required")
    unknown = set(data) - {f.name for f in _fields(cls)}
    if unknown:
        raise InvalidArgumentError(
            f"{where or _name(cls)}: unknown field(s) {', '.join(sorted(unknown))}"
        )
    return cls(**values)
