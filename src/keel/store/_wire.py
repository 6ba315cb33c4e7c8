"""The JSON form of store entities, shared by the server and the REST store.

The domain entities are frozen dataclasses; on the wire they are JSON objects with the
same field names. :func:`to_wire` turns any value built from entities, enums, mappings,
sequences and scalars into JSON-ready data, and :func:`from_wire` rebuilds a value of a
given type from it, driven by the type hints, so a round trip gives back an equal value.

JSON has no NaN or infinities, and metrics have them: a non-finite float is written as
the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` and read back as the float.

Both directions are on every request's path, so they are built once per type: a decoder
compiled from a type's hints checks and rebuilds a value without building field paths;
only when the data does not fit is it decoded again, slowly, to name the field.

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
from collections.abc import Callable, Mapping, Sequence
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
    kind: Any = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else _float_to_wire(value)
    names = _dataclass_names(kind)
    if names is not None:
        return {name: to_wire(getattr(value, name)) for name in names}
    if kind is list or kind is tuple:
        return [to_wire(v) for v in value]
    if kind is dict:
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
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


@functools.cache
def _dataclass_names(kind: type) -> tuple[str, ...] | None:
    """The wire fields of a dataclass type; ``None`` for any other type."""
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(f.name for f in _fields(kind))


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
    try:
        return _decoder(tp)(data)
    except _Mismatch:
        pass
    # Decoded again, slowly, to say where the data went wrong.
    return _from_wire_checked(tp, data, where)


def _from_wire_checked(tp: Any, data: Any, where: str = "") -> Any:
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
                return _from_wire_checked(arg, data, where)
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
                _from_wire_checked(a, d, f"{where}[{i}]")
                for i, (a, d) in enumerate(zip(args, data, strict=True))
            )
        item = args[0] if args else Any
        items = [_from_wire_checked(item, d, f"{where}[{i}]") for i, d in enumerate(data)]
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
            _from_wire_checked(key_t, k, where): _from_wire_checked(value_t, v, f"{where}.{k}")
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
            values[f.name] = _from_wire_checked(hints[f.name], data[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InvalidArgumentError(f"{path}: this field is required")
    unknown = set(data) - {f.name for f in _fields(cls)}
    if unknown:
        raise InvalidArgumentError(
            f"{where or _name(cls)}: unknown field(s) {', '.join(sorted(unknown))}"
        )
    return cls(**values)


# -- compiled decoders: the fast path of from_wire ----------------------------------------

Decoder = Callable[[Any], Any]


class _Mismatch(Exception):
    """The data does not fit the type (the slow path then says where)."""


def _identity(data: Any) -> Any:
    return data


def _decode_float(data: Any) -> float:
    kind = type(data)
    if kind is float:
        return data  # type: ignore[no-any-return]
    if kind is int:
        return float(data)
    if kind is str and data in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[data]
    raise _Mismatch


def _exact(kind: type) -> Decoder:
    def decode(data: Any) -> Any:
        if type(data) is kind:
            return data
        raise _Mismatch

    return decode


@functools.cache
def _decoder(tp: Any) -> Decoder:
    """A function that rebuilds a ``tp`` from its wire form, or raises ``_Mismatch``."""
    if tp is Any or tp is object:
        return _identity
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union_decoder(typing.get_args(tp))
    if origin is not None:
        return _generic_decoder(tp, origin)
    if tp is float:
        return _decode_float
    if tp in (int, str, bool, type(None)):
        return _exact(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_decoder(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    raise TypeError(f"from_wire cannot build {tp!r}")  # a programming error, not input


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    options = [_decoder(a) for a in args if a is not type(None)]
    optional = type(None) in args
    if optional and len(options) == 1:
        (only,) = options

        def decode_optional(data: Any) -> Any:
            return None if data is None else only(data)

        return decode_optional

    def decode(data: Any) -> Any:
        if data is None and optional:
            return None
        for option in options:
            try:
                return option(data)
            except _Mismatch:
                continue
        raise _Mismatch

    return decode


def _enum_decoder(tp: type[enum.Enum]) -> Decoder:
    def decode(data: Any) -> Any:
        try:
            return tp(data)
        except ValueError:
            raise _Mismatch from None

    return decode


def _generic_decoder(tp: Any, origin: Any) -> Decoder:
    args = typing.get_args(tp)
    if origin in (list, tuple, set, frozenset, Sequence) or origin is typing.Sequence:
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            parts = [_decoder(a) for a in args]

            def decode_fixed(data: Any) -> Any:
                if type(data) is not list or len(data) != len(parts):
                    raise _Mismatch
                return tuple(part(d) for part, d in zip(parts, data, strict=True))

            return decode_fixed
        item = _decoder(args[0] if args else Any)
        build: Callable[[list[Any]], Any] = (
            origin if origin in (tuple, set, frozenset) else _identity
        )

        def decode_items(data: Any) -> Any:
            if type(data) is not list:
                raise _Mismatch
            return build([item(d) for d in data])

        return decode_items
    if origin in (dict, Mapping) or origin is typing.Mapping:
        key, value = (_decoder(a) for a in args) if args else (_identity, _identity)

        def decode_mapping(data: Any) -> Any:
            if type(data) is not dict:
                raise _Mismatch
            return {key(k): value(v) for k, v in data.items()}

        return decode_mapping
    if origin is typing.Literal:

        def decode_literal(data: Any) -> Any:
            if data in args:
                return data
            raise _Mismatch

        return decode_literal
    raise TypeError(f"from_wire cannot build {tp!r}")


def _dataclass_decoder(cls: type) -> Decoder:
    hints = _hints(cls)
    fields = [
        (
            f.name,
            _decoder(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in _fields(cls)
    ]
    names = frozenset(name for name, _, _ in fields)

    def decode(data: Any) -> Any:
        if type(data) is not dict:
            raise _Mismatch
        values = {}
        for name, field_decoder, required in fields:
            if name in data:
                values[name] = field_decoder(data[name])
            elif required:
                raise _Mismatch
        if len(values) != len(data) and not names.issuperset(data):
            raise _Mismatch
        return cls(**values)

    return decode
