"""keel._json: the JSON text of what travels to and from a keel server."""

from __future__ import annotations

import json
import math
import random

import pytest

from keel import _json


def test_floats_round_trip_exactly_and_text_stays_utf8() -> None:
    rng = random.Random(0)
    values = [rng.random() * 10 ** rng.randint(-300, 300) for _ in range(2000)]
    values += [0.1, -0.0, 1e-320, 2**53 + 1, -(2**63)]
    data = {"values": values, "text": 'é€ \u2028 "quoted"', "none": None, "yes": True}
    text = _json.encode(data)
    assert json.loads(text) == data == _json.decode(text)
    assert "é€".encode() in text  # not escaped


def test_non_finite_floats_are_written_as_keel_writes_them() -> None:
    text = _json.encode([math.nan, math.inf, -math.inf])
    assert json.loads(text) == ["NaN", "Infinity", "-Infinity"]  # standard JSON


def test_what_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON data"):
        _json.encode({"a": object()})
    with pytest.raises(ValueError):
        _json.decode(b"{not json")
