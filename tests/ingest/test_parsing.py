"""Body decoding without a database: gzip limits, array splitting, NDJSON positions."""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import AsyncIterator

import orjson
import pytest

from app.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from app.ingest.parsing import Limits, MalformedJSON, is_ndjson, iter_array, iter_ndjson, iter_records, read_body

LIMITS = Limits(max_body_bytes=1 << 20, max_decompressed_bytes=4 << 20)


def _read(data: bytes, *, encoding: str | None = None, limits: Limits = LIMITS, chunk: int = 7000) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    return asyncio.run(read_body(chunks(), content_encoding=encoding, content_length=None, limits=limits))


def test_gzip_is_inflated_whether_or_not_the_header_says_so() -> None:
    raw = b'{"a": 1}\n' * 5000
    assert _read(gzip.compress(raw), encoding="gzip") == raw
    assert _read(gzip.compress(raw)) == raw
    assert _read(gzip.compress(raw[:9]) + gzip.compress(raw[9:]), encoding="gzip") == raw  # two members


def test_truncated_gzip_is_refused() -> None:
    packed = gzip.compress(b'{"a": 1}\n' * 5000)
    with pytest.raises(BadRequest, match="truncated"):
        _read(packed[: len(packed) // 2], encoding="gzip")


def test_gzip_bomb_stops_at_the_inflated_limit() -> None:
    bomb = gzip.compress(b" " * (64 << 20))  # 64 MiB of spaces in ~64 KiB
    assert len(bomb) < LIMITS.max_body_bytes
    with pytest.raises(PayloadTooLarge) as caught:
        _read(bomb, encoding="gzip")
    assert caught.value.detail == {"limit": LIMITS.max_decompressed_bytes}


def test_oversize_bodies_and_unknown_encodings_are_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        _read(b"x" * (LIMITS.max_body_bytes + 1))
    with pytest.raises(UnsupportedMediaType):
        _read(b"[]", encoding="br")


def test_array_elements_come_back_exactly_even_with_separators_inside_strings() -> None:
    rng = random.Random(7)
    tricky = ["}, {", "},{", '"},{"', "\\", "é}, {ü", "}\n,\n{", "[{}, {}]"]
    records = [
        {"i": i, "text": "".join(rng.choice([*tricky, "a", " "]) for _ in range(rng.randrange(0, 12))),
         "nested": [{"x": rng.choice(tricky)}, {"y": [1, {"z": "},{"}]}]}
        for i in range(300)
    ]  # fmt: skip
    for body in (orjson.dumps(records), b" [ " + b" ,\n ".join(orjson.dumps(r) for r in records) + b" ]\n"):
        assert list(iter_array(body)) == records
    assert list(iter_array(b"[]")) == []
    assert list(iter_array(b'[1, "a", null]')) == [1, "a", None]


@pytest.mark.parametrize(
    ("body", "at"),
    [
        (b'[{"a": 1}, {"b": }]', b"}]"),
        (b'[{"a": 1}, {"b": 2}', b""),
        ('[{"é": "ü"}, {"b": tru}]'.encode(), b"tru}]"),
        (b'{"a": 1}', b'{"a": 1}'),  # an object where an array was promised
    ],
)
def test_malformed_arrays_report_the_byte_position(body: bytes, at: bytes) -> None:
    with pytest.raises(MalformedJSON) as caught:
        list(iter_array(body))
    assert caught.value.status_code == 400
    assert body[caught.value.detail["position"] :] == at


def test_malformed_ndjson_reports_line_and_byte_position() -> None:
    body = b'{"a": 1}\n\n  \n{"b": 2}\r\n{"c": \xc3\xa9}\n'
    with pytest.raises(MalformedJSON) as caught:
        list(iter_ndjson(body))
    assert caught.value.detail["line"] == 5
    assert body[caught.value.detail["position"] :].startswith(b"\xc3\xa9")


def test_ndjson_skips_blank_lines_and_tolerates_a_missing_final_newline() -> None:
    assert list(iter_ndjson(b'\xef\xbb\xbf{"a": 1}\n\n{"b": 2}')) == [{"a": 1}, {"b": 2}]


def test_a_pretty_printed_single_object_is_one_record() -> None:
    body = b'{\n  "a": 1,\n  "b": [1, 2]\n}\n'
    assert list(iter_records(body, ndjson=is_ndjson(body, "application/json"))) == [{"a": 1, "b": [1, 2]}]
    assert list(iter_records(b'{"a": 1}\n{"b": 2}\n', ndjson=True)) == [{"a": 1}, {"b": 2}]


def test_format_is_sniffed_when_the_content_type_says_json() -> None:
    assert is_ndjson(b'{"a": 1}\n{"b": 2}', "application/json")  # LiteLLM's ndjson
    assert not is_ndjson(b'  [{"a": 1}]', "application/json")
    assert is_ndjson(b"[1]", "application/x-ndjson")
