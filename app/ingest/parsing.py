"""Request bodies → JSON records: size limits, gzip, JSON arrays and NDJSON.

The body is read chunk by chunk and inflated as it arrives, so neither the compressed nor the
inflated size can exceed its limit before we stop (a gzip bomb is cut off at
``max_decompressed_bytes``).  Records are then decoded lazily, one at a time, from the one
inflated copy: NDJSON line by line, a JSON array element by element (see :func:`iter_array`),
so no full list of parsed objects is ever built.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_STEP = 1 << 20
# between two elements of an array of objects; also found inside strings, which iter_array handles
_OBJECT_SEPARATOR = re.compile(rb"\}\s*,\s*\{")
_MAX_MERGES = 64  # pieces glued back together before the array is decoded whole instead
_SPACE = re.compile(rb"[ \t\r\n]*")


class MalformedJSON(BadRequest):
    """The body is not valid JSON / NDJSON; ``detail`` says where."""

    def __init__(self, reason: str, *, position: int, line: int | None = None) -> None:
        detail: dict[str, Any] = {"reason": reason, "position": position}
        if line is not None:
            detail["line"] = line
        where = f"line {line}, byte {position}" if line is not None else f"byte {position}"
        super().__init__(f"malformed JSON at {where}: {reason}", detail)


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A line of a bulk-import file that is not JSON: reported as a rejected record, the rest goes on."""

    reason: str


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int
    max_decompressed_bytes: int


class _Inflater:
    """gzip (also several concatenated members) inflated under a size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._zlib = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header
        self._member_open = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._zlib.decompress(data, _INFLATE_STEP)
            except zlib.error as exc:
                raise BadRequest(f"body is not valid gzip: {exc}") from None
            self._member_open = True
            self._count(out)
            if out:
                yield out
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                data = self._zlib.unused_data + data
                self._zlib = zlib.decompressobj(wbits=47)
                self._member_open = False
                if not data.strip(b"\x00"):  # trailing padding after the last member
                    return
            elif not data and len(out) < _INFLATE_STEP:
                return

    def finish(self) -> None:
        if self._member_open:
            raise BadRequest("gzip body is truncated (the stream ends before its end marker)")

    def _count(self, out: bytes) -> None:
        self.total += len(out)
        if self.total > self.limit:
            raise PayloadTooLarge(
                f"body inflates to more than {self.limit} bytes (max_decompressed_bytes)",
                {"limit": self.limit},
            )


Body = bytes | bytearray


async def read_body(
    chunks: AsyncIterable[bytes], *, content_encoding: str | None, content_length: str | None, limits: Limits
) -> bytearray:
    """The whole (inflated) body; 413 past either limit, 400 for broken gzip, 415 for other encodings."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip", ""):
        raise UnsupportedMediaType(f"Content-Encoding {content_encoding!r} is not supported; use gzip or none")
    if content_length and content_length.isdigit() and int(content_length) > limits.max_body_bytes:
        raise PayloadTooLarge(f"body is larger than {limits.max_body_bytes} bytes", {"limit": limits.max_body_bytes})
    received = 0
    inflater: _Inflater | None = _Inflater(limits.max_decompressed_bytes) if encoding != "identity" else None
    sniffed = inflater is not None
    body = bytearray()  # grown in place: a list of chunks joined at the end would briefly hold the body twice
    async for chunk in chunks:
        if not chunk:
            continue
        received += len(chunk)
        if received > limits.max_body_bytes:
            raise PayloadTooLarge(
                f"body is larger than {limits.max_body_bytes} bytes", {"limit": limits.max_body_bytes}
            )
        if not sniffed:
            sniffed = True
            if chunk.startswith(GZIP_MAGIC):  # gzip sent without the header (files, some shippers)
                inflater = _Inflater(limits.max_decompressed_bytes)
        if inflater is None:
            body += chunk
        else:
            for part in inflater.feed(chunk):
                body += part
    if inflater is not None:
        inflater.finish()
    if inflater is None and len(body) > limits.max_decompressed_bytes:
        raise PayloadTooLarge(f"body is larger than {limits.max_decompressed_bytes} bytes")
    return body


def inflate_file_bytes(data: bytes, *, limit: int) -> bytes:
    """A file's bytes, inflated when gzip (for the bulk importer)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    inflater = _Inflater(limit)
    parts = list(inflater.feed(data))
    inflater.finish()
    return b"".join(parts)


def is_ndjson(body: Body, content_type: str | None) -> bool:
    """NDJSON unless the body starts with '[' (LiteLLM sends NDJSON as application/json)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return True
    first = _skip_space(body, 0)
    return body[first : first + 1] != b"["


def iter_records(body: Body, *, ndjson: bool) -> Iterator[Any]:
    """Decoded records in body order; MalformedJSON (400) for the first one that does not parse."""
    return iter_ndjson_or_object(body) if ndjson else iter_array(body)


def iter_ndjson_or_object(body: Body) -> Iterator[Any]:
    """NDJSON; a body whose first line does not parse may be one pretty-printed object instead."""
    records = iter_ndjson(body)
    try:
        first = next(records, None)
    except MalformedJSON as exc:
        if exc.detail.get("line") != 1 or body[_skip_space(body, 0) : _skip_space(body, 0) + 1] != b"{":
            raise
        try:
            yield orjson.loads(body)  # e.g. a Kong log posted by hand
        except orjson.JSONDecodeError:
            raise exc from None
        return
    if first is not None:
        yield first
        yield from records


def iter_ndjson(body: Body) -> Iterator[Any]:
    view = memoryview(body)
    start = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    line_no = 0
    size = len(body)
    while start < size:
        end = body.find(b"\n", start)
        if end < 0:
            end = size
        line_no += 1
        try:
            record = orjson.loads(view[start:end])
        except orjson.JSONDecodeError as exc:
            if _skip_space(body, start, end) < end:  # not just a blank line
                position = start + _byte_offset(body[start:end], exc.pos)
                raise MalformedJSON(exc.msg, position=position, line=line_no) from None
        else:
            yield record
        start = end + 1


def iter_array(body: Body) -> Iterator[Any]:
    """Elements of a JSON array, decoded one at a time from views of the body (no copies).

    The array is cut at every ``},{`` between objects and each piece decoded on its own; a cut that
    fell inside a string leaves a piece that does not decode, which is glued to the next one and
    tried again.  A piece that decodes starts where an element starts, so it is that element (the
    decoder follows the original text to the element's end).  Arrays of non-objects, or pieces that
    never decode, fall back to decoding the whole body, which also gives the exact error position.
    """
    lead = _skip_space(body, 0)
    tail = len(body)
    while tail > lead and body[tail - 1] in b" \t\r\n":
        tail -= 1
    first = _skip_space(body, lead + 1, tail)
    if body[lead : lead + 1] != b"[" or body[tail - 1 : tail] != b"]" or body[first : first + 1] != b"{":
        yield from _whole_array(body)  # not an array of objects, empty, or malformed
        return
    view = memoryview(body)
    close = tail - 1
    begin = first
    pending: int | None = None  # start of a piece that did not decode yet
    merges = 0
    yielded = 0
    for match in _OBJECT_SEPARATOR.finditer(body, first, close):
        piece_start = begin if pending is None else pending
        begin = match.end() - 1
        try:
            value = orjson.loads(view[piece_start : match.start() + 1])
        except orjson.JSONDecodeError:
            pending = piece_start
            merges += 1
            if merges > _MAX_MERGES:
                break
            continue
        pending = None
        merges = 0
        yielded += 1
        yield value
    else:
        piece_start = begin if pending is None else pending
        try:
            value = orjson.loads(view[piece_start:close])
        except orjson.JSONDecodeError:
            pass
        else:
            yield value
            return
    values = _whole_array(body)  # gives the exact error position, or handles an odd layout
    for _ in range(yielded):
        next(values)
    yield from values


def _skip_space(body: Body, start: int, end: int | None = None) -> int:
    match = _SPACE.match(body, start, len(body) if end is None else end)
    return match.end() if match else start


def _whole_array(body: Body) -> Iterator[Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(exc.msg, position=_byte_offset(body, exc.pos)) from None
    if not isinstance(value, list):
        raise MalformedJSON("expected a JSON array (or NDJSON, one object per line)", position=0)
    yield from value


def _byte_offset(data: Body | memoryview, char_pos: int) -> int:
    """orjson reports character positions; clients want bytes."""
    raw = bytes(data)
    if raw.isascii():
        return char_pos
    return len(raw.decode("utf-8", "replace")[:char_pos].encode("utf-8"))


def iter_ndjson_lines(lines: Iterable[bytes]) -> Iterator[Any]:
    """NDJSON from a file, line by line (files can be far larger than memory); bad lines become Unparsed."""
    position = 0
    for line_no, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                at = position + _byte_offset(line, exc.pos)
                yield Unparsed(f"malformed JSON at line {line_no}, byte {at}: {exc.msg}")
        position += len(line)
