"""The row ingest stores is exactly what ``detectors.events.event_row`` makes of the scrubbed event.

``service.stored_row`` builds the storage tuple directly (no dict, no second parse of ``ts`` and
``ip``); the reference below goes the long way round, through ``event_row``, on events built to
cover every column: identities that are raw keys, NUL in message text, non-ASCII prompts,
prompt-only events, empty and missing fields, and the three retention modes.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from app.ingest import repository
from app.ingest.schemas import validate_event
from app.ingest.scrub import key_identity, scrub_messages, scrub_text
from app.ingest.service import stored_row
from detectors.events import RETENTION_MODES, Retention, epoch_seconds, event_row, parse_ts
from tests.ingest.helpers import make_event

TEXTS = (
    "Explain step by step why 17 is prime.", "Grade the response on a scale of 1 to 10.",
    "caf\u00e9 cr\u00e8me \u212anow", "my key is sk-abcdefghijklmnopqrstuvwx, use it",
    "Bearer abcdefgh12345678 leaked", "nul\x00inside", "", "```py\nprint(1)\n```", "mail a@b.io or see https://x.y/z",
    "\u65e5\u672c\u8a9e\u306e\u8cea\u554f", "   ",
)  # fmt: skip


def _reference(event: dict[str, Any], retention: Retention, ingested_at: float) -> tuple[Any, ...]:
    event = copy.deepcopy(event)
    if event.get("messages"):
        event["messages"] = scrub_messages(event["messages"])
    if event.get("prompt"):
        event["prompt"] = scrub_text(event["prompt"])
    row = event_row(event, retention)
    row["ts"], row["ingested_at"] = event["ts"], ingested_at
    if row["user_agent"]:
        row["user_agent"] = scrub_text(row["user_agent"])
    for name in ("api_key_id", "account_id", "end_user_id"):
        if row[name] and scrub_text(row[name]) is not row[name]:
            row[name] = key_identity(row[name])
    for name in ("prompt_text", "system_text"):
        if row[name] and "\x00" in row[name]:
            row[name] = row[name].replace("\x00", "")
    return tuple(row[name] for name in repository.STORED_COLUMNS)


def _events(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        event = make_event(i, seed=seed)
        roll = rng.random()
        if roll < 0.2:
            del event["messages"]
            event["prompt"] = rng.choice(TEXTS)
        elif roll < 0.7:
            contents = [rng.choice(TEXTS), [{"type": "text", "text": rng.choice(TEXTS)}, "part"], None]
            roles = ["system", "developer", "user", "assistant", "tool"]
            event["messages"] = [
                {"role": rng.choice(roles), "content": rng.choice(contents)} for _ in range(rng.randrange(0, 5))
            ]
        if rng.random() < 0.2:
            event["api_key_id"] = rng.choice(["sk-" + "k" * 30, "key-1", "Bearer abcdefghijk"])
        if rng.random() < 0.1:
            event["end_user_id"] = "sk-" + "u" * 24
        if rng.random() < 0.2:
            event["ip"] = rng.choice(["2001:DB8::1", "::ffff:10.0.0.1", "", None, " 10.1.2.3 ", "fe80::1%eth0"])
        if rng.random() < 0.2:
            event["user_agent"] = rng.choice([None, "", "curl/8 Bearer abcdefghijklmnop"])
        for name in ("org_id", "tls_fingerprint", "conversation_id", "n", "top_p", "tools"):
            if rng.random() < 0.3:
                event[name] = {"n": 2, "top_p": 0.9, "tools": 3}.get(name, f"{name}-{i}")
        out.append(event)
    return out


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_stored_row_equals_the_event_row_reference(retention: Retention) -> None:
    for event in _events(600, seed=7):
        validated, errors = validate_event(event)
        assert validated is not None, errors
        expected = _reference(validated, retention, 123.5)
        assert stored_row(copy.deepcopy(validated), retention, 123.5) == expected
        assert len(expected) == len(repository.STORED_COLUMNS)


def test_epoch_seconds_equal_the_datetime_round_trip() -> None:
    rng = random.Random(9)
    values: list[float] = [1_767_225_600 + i * 0.01 for i in range(2000)]
    values += [rng.uniform(0, 32_503_679_999) for _ in range(20000)]
    values += [rng.randrange(0, 2**31) + rng.randrange(10**6) / 1e6 + 0.5e-6 for _ in range(20000)]  # ties
    values += [rng.random() * 10 ** rng.randrange(-6, 10) for _ in range(20000)]
    values += [0, 0.0, 0.9999995, 0.5e-6, 1.5e-6, 2.5e-6, 1_767_225_600, 32_503_679_999]
    for value in values:
        assert epoch_seconds(value) == parse_ts(value).timestamp(), repr(value)
    assert epoch_seconds("2026-01-01T00:00:00.1234565Z") == parse_ts("2026-01-01T00:00:00.1234565Z").timestamp()
    for bad in (-1, float("nan"), float("inf"), 32_503_680_000, True, "yesterday"):
        with pytest.raises(ValueError):
            epoch_seconds(bad)
