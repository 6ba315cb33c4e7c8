"""The bytes of the online store: entity keys, the record of one entity in one view, and
the schema fingerprint that ties a record to the view it was written for.

A record is the latest feature vector of one entity in one view, in one value::

    byte 0        format version (1)
    bytes 1-8     schema fingerprint (8 bytes of a sha256 over the view's name, join keys,
                  feature names and types, in order)
    bytes 9-16    event time, microseconds since the epoch, big-endian with the sign bit
                  flipped: comparing these 8 bytes as bytes compares the times (a store
                  keeps the newer record without decoding it: SQLite ``substr``, Redis Lua)
    then          a null bitmap (one bit per feature, declared order; set = null)
    then          the fixed-width values in declared order, little-endian: float64 and
                  int64 as 8 bytes, bool as 1, a timestamp as int64 microseconds (UTC)
    then          each string feature as a uint32 length and its UTF-8 bytes

The layout is known from the schema, so a record carries no names and no type tags:
10 float features take 17 + 2 + 80 = 99 bytes. Decoding is one precompiled
``struct.unpack_from`` (plus one slice per string); encoding a whole materialization
is a few numpy operations over Arrow columns, with no Python loop over values.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from keel.errors import InvalidArgumentError, show_input

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "FeatureKind",
    "RecordCodec",
    "entity_key",
    "entity_keys_from_arrow",
    "kind_of_arrow_type",
    "record_event_us",
    "record_fingerprint",
    "schema_fingerprint",
]

FORMAT_VERSION = 1
HEADER_SIZE = 17
_SIGN = 1 << 63
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY_SEPARATOR = "\x1f"  # ASCII unit separator, between the parts of a composite key

#: what a feature's value is in a record
FeatureKind = Literal["float", "int", "bool", "timestamp", "string"]
_FIXED: dict[str, str] = {"float": "d", "int": "q", "bool": "?", "timestamp": "q"}


def schema_fingerprint(
    view: str, join_keys: Sequence[str], features: Sequence[tuple[str, FeatureKind]]
) -> bytes:
    """The 8-byte fingerprint of a view's online layout.

    It changes when the view's name, its join keys, or its features' names, order or
    kinds change: exactly when records written before can no longer be read as the view
    says. (A change of source or TTL keeps it: old records still decode correctly.)

    Example::

        >>> schema_fingerprint("trips", ["driver_id"], [("n", "int")]).hex()
        '...'
    """
    text = "\n".join(
        [f"v{FORMAT_VERSION}", view, ",".join(join_keys)]
        + [f"{name}:{kind}" for name, kind in features]
    )
    return hashlib.sha256(text.encode()).digest()[:8]


def record_fingerprint(record: bytes) -> bytes:
    """The schema fingerprint a record was written with."""
    return record[1:9]


def record_event_us(record: bytes) -> int:
    """The event time of a record, in microseconds since the epoch."""
    return int.from_bytes(record[9:17], "big") - _SIGN


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


# -- entity keys ---------------------------------------------------------------------------


def _key_part(name: str, value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidArgumentError(
            f"entity key {name!r} is {show_input(value)}; an entity key is a string or an integer"
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _KEY_SEPARATOR in value:
            raise InvalidArgumentError(
                f"entity key {name!r} is {show_input(value)}, which holds the control "
                "character \\x1f; entity keys cannot contain it"
            )
        return value
    # numpy integers and the like
    if hasattr(value, "__index__"):
        return str(value.__index__())
    raise InvalidArgumentError(
        f"entity key {name!r} is {show_input(value)} ({type(value).__name__}); "
        "an entity key is a string or an integer"
    )


def entity_key(join_keys: Sequence[str], row: dict[str, Any]) -> bytes:
    """The stored key of one entity: its join-key values in declared order.

    Integers and their decimal strings give the same key, so ``42`` and ``"42"`` (an id
    that came through JSON as text) find the same entity.

    Raises:
        InvalidArgumentError: a join key is missing from ``row`` or is not a string or
            an integer.
    """
    parts = []
    for name in join_keys:
        try:
            value = row[name]
        except KeyError:
            raise InvalidArgumentError(
                f"entity row {show_input(row)} has no key {name!r}; "
                f"rows need the join keys {list(join_keys)}"
            ) from None
        parts.append(_key_part(name, value))
    return _KEY_SEPARATOR.join(parts).encode()


def entity_keys_from_arrow(table: pa.Table, join_keys: Sequence[str]) -> list[bytes]:
    """The stored keys of every row of ``table`` (vectorised :func:`entity_key`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name in join_keys:
        column = table.column(name)
        if pa.types.is_integer(column.type):
            column = pc.cast(column, pa.string())
        elif not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            raise InvalidArgumentError(
                f"join key {name!r} is of type {column.type}; an entity key is a string or an integer"
            )
        if column.null_count:
            raise InvalidArgumentError(
                f"join key {name!r} has {column.null_count} null value(s); every row needs a key"
            )
        columns.append(column)
    if len(columns) == 1:
        joined = columns[0]
    else:
        joined = pc.binary_join_element_wise(*columns, _KEY_SEPARATOR)
    return [value.encode() for value in joined.to_pylist()]


def kind_of_arrow_type(name: str, type_: pa.DataType) -> FeatureKind:
    """The record kind of an Arrow column type.

    Raises:
        InvalidArgumentError: the type has no online form (lists, structs, binary, ...).
    """
    import pyarrow as pa

    if pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "float"
    if pa.types.is_integer(type_):
        return "int"
    if pa.types.is_boolean(type_):
        return "bool"
    if pa.types.is_timestamp(type_) or pa.types.is_date(type_):
        return "timestamp"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "string"
    raise InvalidArgumentError(
        f"feature {name!r} is of type {type_}, which the online store cannot hold; "
        "use a number, a boolean, a timestamp or a string"
    )


# -- records -------------------------------------------------------------------------------


def _header(fingerprint: bytes, event_us: int) -> bytes:
    return bytes([FORMAT_VERSION]) + fingerprint + (event_us + _SIGN).to_bytes(8, "big")


@dataclass(frozen=True)
class RecordCodec:
    """Encodes and decodes the records of one view layout.

    Args:
        fingerprint: the view's :func:`schema_fingerprint`.
        kinds: each feature's kind, in declared order.
    """

    fingerprint: bytes
    kinds: tuple[FeatureKind, ...]
    _fixed: tuple[int, ...] = field(init=False, repr=False)
    _strings: tuple[int, ...] = field(init=False, repr=False)
    _struct: struct.Struct = field(init=False, repr=False)
    _mask_bytes: int = field(init=False, repr=False)
    _plain: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.fingerprint) != 8:
            raise ValueError("a fingerprint is 8 bytes")
        fixed = tuple(i for i, k in enumerate(self.kinds) if k in _FIXED)
        strings = tuple(i for i, k in enumerate(self.kinds) if k == "string")
        mask = (len(self.kinds) + 7) // 8
        fmt = "<" + f"{mask}s" + "".join(_FIXED[self.kinds[i]] for i in fixed)
        object.__setattr__(self, "_fixed", fixed)
        object.__setattr__(self, "_strings", strings)
        object.__setattr__(self, "_mask_bytes", mask)
        object.__setattr__(self, "_struct", struct.Struct(fmt))
        plain = all(k in ("float", "int", "bool") for k in self.kinds)
        object.__setattr__(self, "_plain", plain)

    # -- one record at a time (lookups, tests) ---------------------------------------------

    def encode(self, event_us: int, values: Sequence[Any]) -> bytes:
        """One record from Python values (``None`` is null; a timestamp is a datetime)."""
        if len(values) != len(self.kinds):
            raise ValueError(f"{len(values)} values for {len(self.kinds)} features")
        mask = 0
        fixed: list[Any] = []
        for bit, (kind, value) in enumerate(zip(self.kinds, values, strict=True)):
            if value is None:
                mask |= 1 << bit
            if kind in _FIXED:
                if value is None:
                    fixed.append(False if kind == "bool" else 0)
                elif kind == "timestamp":
                    fixed.append(to_micros(value) if isinstance(value, datetime) else int(value))
                elif kind == "float":
                    fixed.append(float(value))
                elif kind == "int":
                    fixed.append(int(value))
                else:
                    fixed.append(bool(value))
        body = self._struct.pack(mask.to_bytes(self._mask_bytes, "little"), *fixed)
        tail = b""
        for i in self._strings:
            data = b"" if values[i] is None else str(values[i]).encode()
            tail += len(data).to_bytes(4, "little") + data
        return _header(self.fingerprint, event_us) + body + tail

    def decode(self, record: bytes) -> list[Any]:
        """The feature values of a record, in declared order (nulls as ``None``).

        The caller has checked the fingerprint (:func:`record_fingerprint`).
        """
        unpacked = self._struct.unpack_from(record, HEADER_SIZE)
        mask = int.from_bytes(unpacked[0], "little")
        if self._plain and not mask:
            return list(unpacked[1:])  # numbers only and no nulls: the common case
        values: list[Any] = [None] * len(self.kinds)
        for slot, i in enumerate(self._fixed, start=1):
            if not mask >> i & 1:
                value = unpacked[slot]
                values[i] = from_micros(value) if self.kinds[i] == "timestamp" else value
        if self._strings:
            offset = HEADER_SIZE + self._struct.size
            for i in self._strings:
                size = int.from_bytes(record[offset : offset + 4], "little")
                offset += 4
                if not mask >> i & 1:
                    values[i] = record[offset : offset + size].decode()
                offset += size
        return values

    # -- a whole batch (materialization) ----------------------------------------------------

    def encode_arrow(
        self, event_us: np.ndarray[Any, Any], columns: Sequence[pa.Array]
    ) -> list[bytes]:
        """The records of a batch: ``event_us`` (int64 microseconds) and one Arrow array
        per feature, in declared order, all of one length."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(event_us)
        if n == 0:
            return []
        k = len(self.kinds)
        dtype = [
            ("version", "u1"),
            ("fp", "S8"),
            ("ts", ">u8"),
            ("mask", "u1", (self._mask_bytes,)),
        ]
        numpy_types = {"float": "<f8", "int": "<i8", "bool": "u1", "timestamp": "<i8"}
        dtype += [(f"f{i}", numpy_types[self.kinds[i]]) for i in self._fixed]
        out = np.zeros(n, dtype=np.dtype(dtype))
        out["version"] = FORMAT_VERSION
        out["fp"] = self.fingerprint
        out["ts"] = (np.asarray(event_us, dtype=np.int64).view(np.uint64)) ^ np.uint64(_SIGN)
        nulls = np.zeros((n, self._mask_bytes * 8), dtype=bool)
        for i in range(k):
            array = columns[i]
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            if array.null_count:
                nulls[:, i] = np.asarray(array.is_null())
            if i in self._fixed:
                out[f"f{i}"] = _fixed_values(self.kinds[i], array, pa, pc, np)
        out["mask"] = np.packbits(nulls, axis=1, bitorder="little")
        width = out.dtype.itemsize
        buffer = out.tobytes()
        records = [buffer[j * width : (j + 1) * width] for j in range(n)]
        if self._strings:
            tails = [b""] * n
            for i in self._strings:
                values = columns[i].to_pylist()
                tails = [
                    tail
                    + (
                        (len(data := v.encode())).to_bytes(4, "little") + data
                        if v is not None
                        else b"\x00\x00\x00\x00"
                    )
                    for tail, v in zip(tails, values, strict=True)
                ]
            records = [r + t for r, t in zip(records, tails, strict=True)]
        return records


def _fixed_values(kind: str, array: Any, pa: Any, pc: Any, np: Any) -> Any:
    """An Arrow array as the numpy values of a fixed-width field (nulls as 0)."""
    if kind == "timestamp":
        if pa.types.is_date(array.type):
            array = pc.cast(array, pa.timestamp("us"))
        array = pc.cast(array, pa.timestamp("us", tz=getattr(array.type, "tz", None)))
        array = array.view(pa.int64())
        return np.asarray(array.fill_null(0))
    if kind == "float":
        return np.asarray(pc.cast(array, pa.float64()).fill_null(0.0))
    if kind == "int":
        return np.asarray(pc.cast(array, pa.int64()).fill_null(0))
    return np.asarray(array.fill_null(False))
