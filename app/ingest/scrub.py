"""Secrets that gateways leak into logs, removed before anything is stored.

API keys (``sk-…``) and bearer tokens turn up in prompts (people paste them), in user agents and
in LiteLLM metadata (a proxy key without the ``sk-`` prefix lands verbatim in
``user_api_key_hash``).  Text is scrubbed before the prompt signals are computed, so not even the
hashed tokens of a key reach the database.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

REDACTED = "[REDACTED]"
_SECRET = re.compile(
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}"
    r"|(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# values LiteLLM writes into user_api_key_hash that are labels, not keys
LITELLM_KEY_LABELS = frozenset({"litellm_proxy_master_key"})


def _replace(match: re.Match[str]) -> str:
    text = match.group(0)
    return REDACTED if text.startswith("sk-") else f"{text.split(None, 1)[0]} {REDACTED}"


def scrub_text(text: str) -> str:
    # substring tests first: a regex with a case-insensitive alternation costs ~10x more per text
    if "sk-" not in text and "earer" not in text and "EARER" not in text:
        return text
    return _SECRET.sub(_replace, text)


def scrub_content(content: Any) -> Any:
    """A message's content (string or list of parts) with secrets removed; the same object if clean."""
    if isinstance(content, str):
        return scrub_text(content)
    if isinstance(content, list):
        changed = False
        parts: list[Any] = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                text = scrub_text(part["text"])
                if text is not part["text"]:
                    part = {**part, "text": text}
                    changed = True
            elif isinstance(part, str):
                text = scrub_text(part)
                changed = changed or text is not part
                part = text
            parts.append(part)
        return parts if changed else content
    return content


# the turns whose text reaches storage (prompt_text, system_text) or the prompt signals
_KEPT_ROLES = frozenset({"user", "system", "developer"})


def scrub_messages(messages: list[Any]) -> list[Any]:
    """Messages with secrets removed from the turns that are kept; the same list when none had any."""
    out: list[Any] | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _KEPT_ROLES:
            continue
        content = message.get("content")
        clean = scrub_content(content)
        if clean is not content:
            if out is None:
                out = list(messages)
            out[i] = {**message, "content": clean}
    return messages if out is None else out


def key_identity(value: str) -> str:
    """A key field as an identity: SHA-256 hex (what LiteLLM stores) unless it already is one."""
    if _SHA256_HEX.fullmatch(value) or value in LITELLM_KEY_LABELS:
        return value
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
