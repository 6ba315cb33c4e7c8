"""The online record format: what goes in comes out, nulls and all; the header's bytes
order records by event time; fingerprints follow the view's layout."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from keel.errors import InvalidArgumentError
from keel.features._online_codec import (
    RecordCodec,
    entity_key,
    entity_keys_from_arrow,
    kind_of_arrow_type,
    record_event_us,
    record_fingerprint,
    schema_fingerprint,
    to_micros,
)

KINDS = ("float", "int", "bool", "timestamp", "string", "float", "string", "int", "float")
FP = schema_fingerprint("v", ["id"], [(f"f{i}", k) for i, k in enumerate(KINDS)])
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_values_round_trip_with_nulls_in_every_kind() -> None:
    codec = RecordCodec(FP, KINDS)
    values = [1.5, -(2**62), True, T0, "héllo", None, None, None, float("inf")]
    record = codec.encode(123, values)
    assert record_fingerprint(record) == FP
    assert record_event_us(record) == 123
    assert codec.decode(record) == values
    nulls = [None] * len(KINDS)
    assert codec.decode(codec.encode(0, nulls)) == nulls


def test_nan_stays_a_float_and_is_not_a_null() -> None:
    codec = RecordCodec(FP, KINDS)
    out = codec.decode(codec.encode(0, [math.nan, 0, False, T0, "", 0.0, "", 0, 0.0]))
    assert math.isnan(out[0]) and out[4] == "" and out[2] is False


def test_a_batch_encodes_exactly_as_one_record_at_a_time() -> None:
    codec = RecordCodec(FP, KINDS)
    rows = [
        [0.25, 7, False, T0, "a", 3.0, None, 1, None],
        [None, None, None, None, None, None, "zz", None, -1.0],
        [1e300, 2**40, True, T0 + timedelta(days=400), "ü" * 30, -0.0, "", -5, 2.5],
    ]
    types = [pa.float64(), pa.int64(), pa.bool_(), pa.timestamp("us", tz="UTC"), pa.string()]
    types += [pa.float32(), pa.string(), pa.int32(), pa.float64()]
    columns = [pa.array([r[i] for r in rows], type=t) for i, t in enumerate(types)]
    times = np.array([-5, 0, 1_700_000_000_000_000], dtype=np.int64)
    batch = codec.encode_arrow(times, columns)
    expected = [codec.encode(int(t), r) for t, r in zip(times, rows, strict=True)]
    assert batch == expected
    assert [codec.decode(r) for r in batch] == rows


def test_header_bytes_order_records_by_event_time() -> None:
    codec = RecordCodec(FP, ("int",))
    times = [-(2**62), -1, 0, 1, 255, 256, 1_700_000_000_000_000, 2**62]
    records = [codec.encode(t, [1]) for t in times]
    assert sorted(records, key=lambda r: r[9:17]) == records
    assert [record_event_us(r) for r in records] == times


def test_fingerprint_follows_names_order_kinds_and_keys() -> None:
    base = schema_fingerprint("v", ["id"], [("a", "int"), ("b", "float")])
    assert len(base) == 8
    assert base == schema_fingerprint("v", ["id"], [("a", "int"), ("b", "float")])
    others = [
        schema_fingerprint("w", ["id"], [("a", "int"), ("b", "float")]),
        schema_fingerprint("v", ["id2"], [("a", "int"), ("b", "float")]),
        schema_fingerprint("v", ["id"], [("b", "float"), ("a", "int")]),
        schema_fingerprint("v", ["id"], [("a", "float"), ("b", "float")]),
        schema_fingerprint("v", ["id"], [("a", "int")]),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_entity_keys_match_between_ints_and_their_text() -> None:
    assert entity_key(["id"], {"id": 42}) == entity_key(["id"], {"id": "42"}) == b"42"
    assert entity_key(["id"], {"id": np.int64(42)}) == b"42"
    assert entity_key(["a", "b"], {"b": "x", "a": 1}) == b"1\x1fx"
    table = pa.table({"a": pa.array([1, 2], pa.int32()), "b": ["x", "y"]})
    assert entity_keys_from_arrow(table, ["a", "b"]) == [b"1\x1fx", b"2\x1fy"]
    assert entity_keys_from_arrow(table, ["a"]) == [b"1", b"2"]


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({}, "has no key 'id'"),
        ({"id": None}, "string or an integer"),
        ({"id": 1.5}, "string or an integer"),
        ({"id": True}, "string or an integer"),
        ({"id": "a\x1fb"}, "cannot contain"),
    ],
)
def test_bad_entity_keys_are_named(row: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        entity_key(["id"], row)


def test_arrow_keys_refuse_nulls_and_floats() -> None:
    with pytest.raises(InvalidArgumentError, match="1 null"):
        entity_keys_from_arrow(pa.table({"id": [1, None]}), ["id"])
    with pytest.raises(InvalidArgumentError, match="type double"):
        entity_keys_from_arrow(pa.table({"id": [1.0]}), ["id"])


def test_kinds_of_arrow_types() -> None:
    assert kind_of_arrow_type("x", pa.float32()) == "float"
    assert kind_of_arrow_type("x", pa.int8()) == "int"
    assert kind_of_arrow_type("x", pa.date32()) == "timestamp"
    assert kind_of_arrow_type("x", pa.large_string()) == "string"
    with pytest.raises(InvalidArgumentError, match="feature 'x' is of type list"):
        kind_of_arrow_type("x", pa.list_(pa.int64()))


def test_naive_datetimes_are_utc() -> None:
    assert to_micros(datetime(1970, 1, 1, 0, 0, 1)) == 1_000_000
    assert to_micros(T0) == to_micros(T0.replace(tzinfo=None))
