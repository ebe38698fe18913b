"""The event frame: the one shape of request data that every detector reads.

A canonical event (``../shared/SPEC.md``, one LLM API request) becomes one row via
:func:`event_row`; the service stores those rows and loads them back as a frame with
:data:`EVENT_COLUMNS`.  Detectors never see raw messages: only what the configured
prompt-retention mode keeps (``full`` keeps the texts too, ``hashed`` only hashes and
scores, ``none`` only counts and lengths).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import pandas as pd
from pandas.api.types import pandas_dtype

from detectors.prompts import prompt_scores
from detectors.text import read_conversation, text_signals

Retention = Literal["full", "hashed", "none"]
RETENTION_MODES: tuple[Retention, ...] = ("full", "hashed", "none")

# column → pandas dtype of the event frame, in storage order
EVENT_COLUMNS: dict[str, str] = {
    "request_id": "string",
    "account_id": "string",
    "ts": "datetime64[ns, UTC]",
    "api_key_id": "string",
    "org_id": "string",
    "end_user_id": "string",
    "ip": "string",
    "user_agent": "string",
    "tls_fingerprint": "string",
    "model": "string",
    "endpoint": "string",
    "conversation_id": "string",
    "max_tokens": "Int64",
    "n": "Int64",
    "temperature": "Float64",
    "top_p": "Float64",
    "stream": "boolean",
    "tools": "Int64",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "status": "Int64",
    "latency_ms": "Float64",
    # derived from messages / prompt at ingest
    "n_messages": "Int64",
    "n_user_turns": "Int64",
    "n_assistant_turns": "Int64",
    "has_system": "boolean",
    "prompt_chars": "Int64",
    "cot_score": "Float64",
    "rubric_score": "Float64",
    "text_hash": "string",
    "template_hash": "string",
    "token_hashes": "string",
    "prompt_text": "string",
    "system_text": "string",
}

# account metadata (POST /v1/accounts) → pandas dtype of the account frame, indexed by account_id
ACCOUNT_COLUMNS: dict[str, str] = {
    "account_id": "string",
    "created_at": "datetime64[ns, UTC]",
    "email_domain": "string",
    "payment_fingerprint": "string",
    "country": "string",
    "signup_channel": "string",
    "org_id": "string",
    "tier": "string",
}

PASSTHROUGH_FIELDS = (
    "request_id", "account_id", "api_key_id", "org_id", "end_user_id", "user_agent", "tls_fingerprint",
    "model", "endpoint", "conversation_id", "max_tokens", "n", "temperature", "top_p", "stream", "tools",
    "prompt_tokens", "completion_tokens", "status", "latency_ms",
)  # fmt: skip

MAX_STORED_TEXT = 4000


def parse_ts(value: Any) -> datetime:
    """RFC 3339 text or epoch seconds → an aware UTC datetime; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected an RFC 3339 string or epoch seconds, got a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            raise ValueError(f"epoch seconds out of range: {value!r}")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an RFC 3339 timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp has no UTC offset: {value!r}")
        return parsed.astimezone(UTC)
    raise ValueError(f"expected an RFC 3339 string or epoch seconds, got {type(value).__name__}")


def epoch_seconds(value: Any) -> float:
    """``parse_ts(value).timestamp()``; for numbers without building the datetime (ingest does this per event).

    ``datetime.fromtimestamp`` rounds a float to whole microseconds, half to even, and
    ``timestamp()`` divides the microseconds since the epoch by 10**6, correctly rounded: the
    same two steps here, so the result is the same float.
    """
    if type(value) is float or type(value) is int:
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            raise ValueError(f"epoch seconds out of range: {value!r}")
        fraction, whole = math.modf(value)
        micros = round(fraction * 1e6)
        return (int(whole) * 1_000_000 + micros) / 1_000_000
    return parse_ts(value).timestamp()


# a dotted quad that ipaddress accepts is already its canonical text (no leading zeros, each octet 0..255)
_CANONICAL_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def normalise_ip(value: str) -> str:
    """Canonical text of an IPv4/IPv6 address (IPv4-mapped IPv6 becomes IPv4); ValueError otherwise."""
    if _CANONICAL_IPV4.fullmatch(value) is not None:
        return value
    return _parsed_ip(value)


@lru_cache(maxsize=1 << 16)  # gateway traffic repeats the same client addresses
def _parsed_ip(value: str) -> str:
    address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


# the columns event_row derives from an event's messages / prompt, in storage order
DERIVED_COLUMNS: tuple[str, ...] = (
    "n_messages", "n_user_turns", "n_assistant_turns", "has_system", "prompt_chars", "cot_score", "rubric_score",
    "text_hash", "template_hash", "token_hashes", "prompt_text", "system_text",
)  # fmt: skip


def derived_values(messages: Any, prompt: Any, retention: Retention = "full") -> tuple[Any, ...]:
    """The DERIVED_COLUMNS of one event (what ingest computes from the text before it is dropped)."""
    conversation = read_conversation(messages, prompt)
    return conversation_values(
        conversation.last_user_text, conversation.system_text, conversation.n_messages,
        conversation.n_user_turns, conversation.n_assistant_turns, conversation.prompt_chars, retention,
    )  # fmt: skip


def conversation_values(
    user_text: str,
    system_text: str,
    n_messages: int,
    n_user_turns: int,
    n_assistant_turns: int,
    prompt_chars: int,
    retention: Retention = "full",
) -> tuple[Any, ...]:
    """The DERIVED_COLUMNS from what ``read_conversation`` gives (ingest's fast path reads that in C)."""
    cot, rubric = prompt_scores(user_text, system_text)
    if retention == "none":
        text_hash = template_hash = token_hashes = None
    else:
        signals = text_signals(user_text)
        text_hash, template_hash, token_hashes = signals["text_hash"], signals["template_hash"], signals["token_hashes"]
    keep_text = retention == "full"
    return (
        n_messages, n_user_turns, n_assistant_turns, bool(system_text), prompt_chars, cot, rubric, text_hash,
        template_hash, token_hashes, user_text[:MAX_STORED_TEXT] if keep_text else None,
        (system_text[:MAX_STORED_TEXT] or None) if keep_text else None,
    )  # fmt: skip


def event_row(event: Mapping[str, Any], retention: Retention = "full") -> dict[str, Any]:
    """One canonical event → one event-frame row. Raises ValueError on a bad ts or ip."""
    row: dict[str, Any] = {field: event.get(field) for field in PASSTHROUGH_FIELDS}
    row["ts"] = parse_ts(event["ts"])
    ip = event.get("ip")
    row["ip"] = normalise_ip(ip) if ip else None
    row.update(zip(DERIVED_COLUMNS, derived_values(event.get("messages"), event.get("prompt"), retention), strict=True))
    return row


def empty_event_frame() -> pd.DataFrame:
    return frame_from_rows([])


def frame_from_rows(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (dicts or records with the event columns, missing ones taken as null) → the event frame."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(EVENT_COLUMNS))
    return coerce_event_frame(frame)


def coerce_event_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame exactly the event columns and dtypes (adding missing optional ones as null)."""
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column, dtype in EVENT_COLUMNS.items():
        values = frame[column].to_numpy() if column in frame else [None] * len(frame)
        if column == "ts":
            out[column] = pd.to_datetime(pd.Series(values), utc=True).astype("datetime64[ns, UTC]")
        else:
            out[column] = pd.Series(values).astype(pandas_dtype(dtype))
    return out


def account_frame(records: Iterable[Mapping[str, Any]] | Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    """Account metadata records → the account frame (index: account_id; created_at parsed to UTC).

    Records are mappings, or tuples of the :data:`ACCOUNT_COLUMNS` in order (database rows: no dict per row)."""
    rows: list[Any] = list(records)
    frame = pd.DataFrame.from_records(rows, columns=list(ACCOUNT_COLUMNS))
    for column, dtype in ACCOUNT_COLUMNS.items():
        if column == "created_at":
            parsed = [parse_ts(v) if isinstance(v, str | int | float) and not pd.isna(v) else v for v in frame[column]]
            frame[column] = pd.to_datetime(pd.Series(parsed, dtype=object), utc=True).astype("datetime64[ns, UTC]")
        else:
            frame[column] = frame[column].astype(pandas_dtype(dtype))
    return frame.drop_duplicates("account_id", keep="last").set_index("account_id")


def to_event_frame(events: Iterable[Mapping[str, Any]], retention: Retention = "full") -> pd.DataFrame:
    """Canonical events (trusted, e.g. from the simulator) → the event frame, as the service would store it."""
    return frame_from_rows(event_row(event, retention) for event in events)
