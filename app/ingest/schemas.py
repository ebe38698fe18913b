"""Validation of canonical events and account metadata, and the ingest responses.

Hand-written checks rather than a pydantic model per record: ingest validates tens of thousands
of records per second, and every problem of a record is reported (field and reason), not only
the first one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from detectors.events import epoch_seconds, normalise_ip, parse_ts

INT32_MAX = 2**31 - 1
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

# field → longest value the events table takes (None: unbounded text)
EVENT_STRINGS: dict[str, int | None] = {
    "request_id": 200, "account_id": 200, "api_key_id": 200, "org_id": 200, "end_user_id": 200,
    "user_agent": None, "tls_fingerprint": 200, "model": 200, "endpoint": 200, "conversation_id": 200,
    "prompt": None,
}  # fmt: skip
EVENT_INTS = ("max_tokens", "n", "tools", "prompt_tokens", "completion_tokens", "status")
EVENT_FLOATS = ("temperature", "top_p", "latency_ms")

ACCOUNT_STRINGS: dict[str, int] = {
    "email_domain": 255, "payment_fingerprint": 255, "signup_channel": 100, "org_id": 200, "tier": 100,
}  # fmt: skip
ACCOUNT_FIELDS = ("created_at", "country", *ACCOUNT_STRINGS)


class FieldError(BaseModel):
    field: str
    reason: str


class RejectedRecord(BaseModel):
    index: int
    request_id: str | None = None
    errors: list[FieldError]


class IngestResponse(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events whose request_id was already stored, or repeated in the body")
    rejected: list[RejectedRecord] = Field(description="records that failed validation (the others are stored)")


class AccountsResponse(BaseModel):
    upserted: int
    rejected: list[RejectedRecord]


Errors = list[tuple[str, str]]


def _type_name(value: Any) -> str:
    return (
        "null"
        if value is None
        else {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)
    )


_STR, _INT, _FLOAT, _BOOL, _IP, _TS, _MESSAGES = range(7)
_KINDS: dict[str, tuple[int, int | None]] = {
    **{name: (_STR, limit) for name, limit in EVENT_STRINGS.items()},
    **{name: (_INT, None) for name in EVENT_INTS},
    **{name: (_FLOAT, None) for name in EVENT_FLOATS},
    "stream": (_BOOL, None), "ip": (_IP, None), "ts": (_TS, None), "messages": (_MESSAGES, None),
}  # fmt: skip


def validate_event(event: Any) -> tuple[dict[str, Any] | None, Errors]:
    """A canonical event checked and normalised in place: (event, []) or (None, errors).

    Normalised: ``ts`` becomes epoch seconds (float, UTC), ``ip`` its canonical text, integral
    floats in integer fields become ints, NUL characters are removed from strings.  One pass over
    the fields the record has (ingest validates tens of thousands of records per second).
    """
    if not isinstance(event, dict):
        return None, [("", f"expected a JSON object, got {_type_name(event)}")]
    errors: Errors = []
    for field, value in event.items():  # assigning to existing keys while iterating is safe
        spec = _KINDS.get(field)
        if spec is None or value is None:
            continue
        kind, limit = spec
        if kind == _STR:
            if type(value) is not str:
                errors.append((field, f"expected a string, got {_type_name(value)}"))
            elif limit is not None and len(value) > limit:
                errors.append((field, f"longer than {limit} characters"))
            elif "\x00" in value:
                event[field] = value.replace("\x00", "")
        elif kind == _INT:
            if type(value) is float and value.is_integer():
                value = event[field] = int(value)
            if type(value) is not int:
                errors.append((field, f"expected an integer, got {_type_name(value)}"))
            elif not 0 <= value <= INT32_MAX:
                errors.append((field, f"out of range 0..{INT32_MAX}"))
        elif kind == _FLOAT:
            if type(value) not in (int, float) or not math.isfinite(value):
                errors.append((field, f"expected a number, got {_type_name(value)}"))
        elif kind == _TS:
            try:
                event[field] = epoch_seconds(value)
            except ValueError as exc:
                errors.append((field, str(exc)))
        elif kind == _IP:
            if type(value) is not str:
                errors.append((field, f"expected a string, got {_type_name(value)}"))
            elif value:
                try:
                    event[field] = normalise_ip(value)
                except ValueError:
                    errors.append((field, f"not an IPv4 or IPv6 address: {value[:64]!r}"))
        elif kind == _BOOL:
            if type(value) is not bool:
                errors.append((field, f"expected a boolean, got {_type_name(value)}"))
        else:
            _check_messages(value, errors)
    for field in ("request_id", "account_id", "ts"):
        value = event.get(field)
        if value is None:
            errors.append((field, "required"))
        elif type(value) is str and not value.strip():
            errors.append((field, "expected a non-empty string"))
    return (None, errors) if errors else (event, errors)


def _check_messages(messages: Any, errors: Errors) -> None:
    if not isinstance(messages, list):
        errors.append(("messages", f"expected an array, got {_type_name(messages)}"))
        return
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            errors.append((f"messages[{i}]", f"expected an object, got {_type_name(message)}"))
            continue
        role = message.get("role")
        if role not in ROLES:
            errors.append((f"messages[{i}].role", f"expected one of {', '.join(sorted(ROLES))}, got {role!r}"[:200]))
        content = message.get("content")
        if content is not None and type(content) is not str and type(content) is not list:  # JSON gives no subclasses
            errors.append((f"messages[{i}].content", f"expected a string or an array of parts, got "
                           f"{_type_name(content)}"))  # fmt: skip


def validate_account(record: Any) -> tuple[dict[str, Any] | None, Errors]:
    """Account metadata checked: (values of the fields present, []) or (None, errors)."""
    if not isinstance(record, dict):
        return None, [("", f"expected a JSON object, got {_type_name(record)}")]
    errors: Errors = []
    account_id = record.get("account_id")
    if account_id is None:
        errors.append(("account_id", "required"))
    elif not isinstance(account_id, str) or not account_id.strip() or len(account_id) > 200:
        errors.append(("account_id", "expected a non-empty string of at most 200 characters"))
    values: dict[str, Any] = {"account_id": account_id}
    for field, limit in ACCOUNT_STRINGS.items():
        if field in record:
            value = record[field]
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                errors.append((field, f"expected a string of at most {limit} characters"))
            values[field] = value.replace("\x00", "") if isinstance(value, str) else value
    if "country" in record:
        country = record["country"]
        if country is not None and (not isinstance(country, str) or len(country) != 2 or not country.isalpha()
                                    or not country.isascii()):  # fmt: skip
            errors.append(("country", "expected an ISO 3166 alpha-2 code such as 'DE'"))
        values["country"] = country.upper() if isinstance(country, str) else None
    if "created_at" in record:
        created = record["created_at"]
        try:
            values["created_at"] = None if created is None else parse_ts(created)
        except ValueError as exc:
            errors.append(("created_at", str(exc)))
    return (None, errors) if errors else (values, errors)


def rejected(index: int, record: Any, errors: Errors) -> RejectedRecord:
    request_id = record.get("request_id") if isinstance(record, Mapping) else None
    return RejectedRecord(
        index=index,
        request_id=request_id[:200] if isinstance(request_id, str) else None,
        errors=[FieldError(field=field, reason=reason) for field, reason in errors],
    )
