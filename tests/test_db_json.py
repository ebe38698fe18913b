"""JSON columns are written with orjson, and nothing the standard encoder accepted is refused."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from app.db import json_serializer


def test_plain_values_encode_like_the_standard_encoder() -> None:
    value = {"risk": 0.25, "reasons": [{"feature": "cot", "value": 1, "text": "é ✓"}], "ok": True, "none": None}
    assert json.loads(json_serializer(value)) == value


def test_numpy_scalars_and_arrays_and_integer_keys_encode() -> None:
    value = {1: np.float64(0.5), "n": np.int64(3), "flag": np.bool_(True), "arr": np.arange(3)}
    assert json.loads(json_serializer(value)) == {"1": 0.5, "n": 3, "flag": True, "arr": [0, 1, 2]}


def test_what_orjson_refuses_falls_back_to_the_standard_encoder() -> None:
    huge = 2**70  # beyond 64 bits: orjson refuses, the standard encoder writes it
    assert json.loads(json_serializer({"big": huge})) == {"big": huge}
    with pytest.raises(TypeError):
        json_serializer({"amount": Decimal("1.5")})  # neither encoder accepts it: the error is the standard one
