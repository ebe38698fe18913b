"""Gateway log formats → canonical events (``../shared/SPEC.md``)."""

from __future__ import annotations

from typing import Any

from detectors.events import normalise_ip


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def lookup(record: dict[str, Any], path: str) -> Any:
    """``record["a"]["b"]`` for the path ``"a.b"``; None where any step is missing."""
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def first_text(record: dict[str, Any], paths: list[str]) -> tuple[str | None, str | None]:
    """The first non-empty string (or number) among ``paths``, and the path it came from."""
    for path in paths:
        value = lookup(record, path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value, path
    return None, None


def text_or_none(value: Any) -> str | None:
    """Gateways are loose with types: numbers become text, empty or structured values nothing."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def ip_or_none(value: Any) -> str | None:
    """A gateway's client address, or None when it is not one (a record is never lost for it)."""
    text = text_or_none(value)
    if text is None:
        return None
    try:
        return normalise_ip(text.split(",", 1)[0])  # X-Forwarded-For style lists: the client comes first
    except ValueError:
        return None
