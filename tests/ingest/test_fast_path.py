"""Ingest's C fast path (``service.fast_row``) gives exactly what the Python path gives, or declines.

For every event below, ``fast_row`` either returns None (the record then takes ``validate_event``
and ``stored_row``, the reference) or the very row the reference stores for it, and it never
changes the event.  The events start from ordinary ones and change one field at a time to what
validation rejects or rewrites: wrong types, out-of-range and non-finite numbers, integral floats
in integer fields, NUL characters, over-long strings, keys that scrubbing removes, blank
identifiers, every timestamp form, IPv4/IPv6 spellings, and messages with parts, odd roles or
no content.  Ordinary events must take the fast path (else it would be dead code).
"""

from __future__ import annotations

import copy
import gc
import random
from typing import Any

import pytest

from app.ingest import service
from app.ingest.schemas import validate_event
from app.ingest.service import fast_row, stored_row
from detectors.events import RETENTION_MODES
from tests.ingest.helpers import make_event

pytestmark = pytest.mark.skipif(
    service._ingest_head is None, reason="detectors._textfast is not built (no C compiler): no fast path to compare"
)

TEXTS = (
    "Explain step by step why 17 is prime.", "Grade the response on a scale of 1 to 10.", "caf\u00e9 \u212anow",
    "my key is sk-abcdefghijklmnopqrstuvwx, use it", "Bearer abcdefgh12345678 leaked", "BEARER abcdefgh12345678",
    "nul\x00inside", "", "   ", "\u65e5\u672c\u8a9e", "emoji \U0001f600 sk-", "task-42 desk-7", "bearer", "e", "s",
)  # fmt: skip
ODD_VALUES: tuple[Any, ...] = (
    None, "", " ", "\tx", "x\x00y", "sk-abcdefghijklmnopqrstuv", "Bearer 0123456789abc", "a" * 200, "a" * 201,
    "\u00e9" * 201, 0, 1, -1, 2**31 - 1, 2**31, 2**63, 1.0, 1.5, -0.0, float("inf"), float("nan"), True, False,
    [], {}, ["x"], 1e300,
)  # fmt: skip
TIMESTAMPS: tuple[Any, ...] = (
    1_767_225_600, 1_767_225_600.123456789, 1_767_225_600.0000005, 1_767_225_600.0000015, 0, 0.0, -0.0, -1,
    32503679999.999996, 32503680000, 2**53, 2**63, 2**80, float("inf"), float("nan"), True, "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.5+02:00", "2026-01-01T00:00:00", "  ", "", "yesterday", None, [], 1e-7, 0.4999999999,
    12345.9999995,
)  # fmt: skip
IPS: tuple[Any, ...] = (
    "198.51.100.7", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4 ",
    " 1.2.3.4", "::1", "2001:DB8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "", "not an ip", 5, None, "1.2.3.04",
    "\u0661.2.3.4",
)  # fmt: skip
MESSAGES: tuple[Any, ...] = (
    None, [], "hello", [{"role": "user", "content": "hi"}], [{"role": "user"}], [{"role": "user", "content": None}],
    [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], [{"role": "wizard", "content": "x"}],
    [{"content": "x"}], ["x"], [{"role": 5, "content": "x"}], [{"role": "user", "content": 5}],
    [{"role": "system", "content": "a"}, {"role": "developer", "content": "b"}, {"role": "user", "content": "c"}],
    [{"role": "system", "content": None}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "x"}],
    [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "sk-abcdefghijklmnopqrstuv"},
     {"role": "tool", "content": "t"}, {"role": "function", "content": "f\x00"}, {"role": "user", "content": ""}],
    [{"role": "user", "content": "key sk-abcdefghijklmnopqrstuv"}], [{"role": "system", "content": "nul\x00"}],
    [{"role": "assistant", "content": "only the model"}],
)  # fmt: skip
FIELDS = (
    "request_id", "account_id", "api_key_id", "org_id", "end_user_id", "user_agent", "tls_fingerprint", "model",
    "endpoint", "conversation_id", "prompt", "max_tokens", "n", "tools", "prompt_tokens", "completion_tokens",
    "status", "temperature", "top_p", "latency_ms", "stream",
)  # fmt: skip


def _variants() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [make_event(i, seed=7) for i in range(40)]
    base = make_event(0, seed=8)
    for field in FIELDS:
        for value in ODD_VALUES:
            events.append({**copy.deepcopy(base), field: value})
        events.append({key: value for key, value in copy.deepcopy(base).items() if key != field})
    for value in TIMESTAMPS:
        events.append({**copy.deepcopy(base), "ts": value})
    for value in IPS:
        events.append({**copy.deepcopy(base), "ip": value})
    for messages in MESSAGES:
        for prompt in (None, "", "a prompt", "sk-abcdefghijklmnopqrstuv"):
            event = {**copy.deepcopy(base), "messages": copy.deepcopy(messages)}
            if prompt is not None:
                event["prompt"] = prompt
            events.append(event)
    rng = random.Random(11)
    for i in range(300):  # several changes at once, texts mixed
        event = make_event(i, seed=9)
        for _ in range(rng.randrange(1, 4)):
            field = rng.choice((*FIELDS, "ts", "ip", "messages"))
            pool = TIMESTAMPS if field == "ts" else IPS if field == "ip" else MESSAGES if field == "messages" else (
                *ODD_VALUES, *TEXTS)  # fmt: skip
            event[field] = copy.deepcopy(rng.choice(pool))
        if rng.random() < 0.5:
            event["messages"] = [{"role": rng.choice(("system", "user", "assistant")), "content": rng.choice(TEXTS)}
                                 for _ in range(rng.randrange(0, 4))]  # fmt: skip
        events.append(event)
    events += [[], "x", 5, None]  # type: ignore[list-item]
    return events


def _same(left: tuple[Any, ...], right: tuple[Any, ...]) -> bool:
    """Equal values of equal types (1 == 1.0 == True would hide a changed column type)."""
    return len(left) == len(right) and all(type(a) is type(b) and a == b for a, b in zip(left, right, strict=True))


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_fast_row_is_the_python_row_or_declines(retention: Any) -> None:
    taken = declined = 0
    for event in _variants():
        before = copy.deepcopy(event)
        fast = fast_row(event, retention, 1_800_000_000.25)
        assert repr(event) == repr(before), "fast_row changed the event"
        reference_event, errors = validate_event(copy.deepcopy(event))
        if fast is None:
            declined += 1
            continue
        taken += 1
        assert reference_event is not None and not errors, (event, errors)
        expected = stored_row(reference_event, retention, 1_800_000_000.25)
        assert _same(fast, expected), (event, fast, expected)
    assert taken > 200 and declined > 500, (taken, declined)


def test_ordinary_events_take_the_fast_path() -> None:
    for i in range(200):
        event = make_event(i, seed=3, ip=f"2001:db8::{i:x}" if i % 2 else f"203.0.113.{i % 250}")
        if i % 3 == 0:
            event["ts"] = "2026-03-01T12:00:00.250Z"
        assert fast_row(event, "full", 0.0) is not None, event


def test_fast_rows_are_left_alone_by_the_garbage_collector() -> None:
    """The rows hold only atomic values, so the collector need not walk them (it would untrack them itself)."""
    from detectors._textfast import joined_row

    row = fast_row(make_event(1, seed=4), "full", 0.0)
    assert row is not None and not gc.is_tracked(row)
    assert joined_row(("a", 1, None), (2.5, True)) == ("a", 1, None, 2.5, True)
    mixed = joined_row(("a",), ([1],))
    assert mixed == ("a", [1]) and gc.is_tracked(mixed)  # a container inside: tracked as any tuple
