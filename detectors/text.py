"""Prompt text → the compact signals detectors need.

Computed once per event at ingest, so that the `hashed` and `none` retention modes
keep as much signal as they can without storing what users wrote:

* ``text_hash``      - hash of the normalised last user turn (exact repeats);
* ``template_hash``  - hash of the same text with its slots (numbers, quoted strings,
  code, identifiers-with-digits) masked, so "Explain X step by step" for many X collide
  only when X is a slot; near-duplicate templates are found from ``token_hashes``;
* ``token_hashes``   - the ordered, slot-masked word tokens, each hashed to 6 hex chars
  (topic models and MinHash work on these instead of the words);
* ``cot_score`` / ``rubric_score`` - see :mod:`detectors.prompts`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

try:  # the C version of the signals below, built by `pip install -e .`; this module is its reference
    from detectors._textfast import slot_hashes as _slot_hashes
except ImportError:  # pragma: no cover - a build without a C compiler takes the Python path

    def _slot_hashes(text: str, max_tokens: int, /) -> tuple[str, str, str]:
        toks = tokens(text)
        return stable_hash(normalise(text)), stable_hash(" ".join(toks)), " ".join(map(token_hash, toks[:max_tokens]))


MAX_TOKENS_KEPT = 48
_TOKEN_RE = re.compile(r"[a-z][a-z']+|<[a-z]+>")
_CODE_BLOCK_RE = re.compile(r"```.*?(```|$)", re.S)
_QUOTED_RE = re.compile(r"\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|`[^`\n]{1,200}`")
_URL_RE = re.compile(r"https?://\S+|\S+@\S+\.\w+")
_NUMBER_RE = re.compile(r"[-+]?\d[\d,._:/]*")
_MIXED_RE = re.compile(r"\b\w*\d\w*\b")
_SPACE_RE = re.compile(r"\s+")
_DIGIT_RE = re.compile(r"\d")


def stable_hash(text: str, *, nbytes: int = 8) -> str:
    """A hash that is the same in every process and on every machine (unlike ``hash``)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=nbytes).hexdigest()


_TOKEN_HASHES: dict[str, str] = {}
_TOKEN_HASHES_MAX = 1 << 18  # a vocabulary's worth; ingest hashes ~50 tokens per event, mostly repeats


def token_hash(token: str) -> str:
    cached = _TOKEN_HASHES.get(token)
    if cached is None:
        if len(_TOKEN_HASHES) >= _TOKEN_HASHES_MAX:
            _TOKEN_HASHES.clear()
        cached = _TOKEN_HASHES[token] = stable_hash(token, nbytes=3)
    return cached


def normalise(text: str) -> str:
    # str.split() splits on exactly the characters \s matches: the same as _SPACE_RE.sub on the stripped text
    return " ".join(text.lower().split())


def mask_slots(text: str) -> str:
    """Replace the parts of a prompt that vary between instances of one template."""
    # each substitution runs only when the text holds a character it needs (same output, less work)
    if "```" in text:
        text = _CODE_BLOCK_RE.sub(" <code> ", text)
    if "://" in text or "@" in text:
        text = _URL_RE.sub(" <url> ", text)
    if '"' in text or "'" in text or "`" in text:
        text = _QUOTED_RE.sub(" <quote> ", text)
    if _DIGIT_RE.search(text):
        text = _MIXED_RE.sub(" <num> ", text)
    if _DIGIT_RE.search(text):
        text = _NUMBER_RE.sub(" <num> ", text)
    return normalise(text)


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(mask_slots(text))


def content_text(content: Any) -> str:
    """A message's text whether ``content`` is a string or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                value = part.get("text")
                if isinstance(value, str):
                    parts.append(value)
        return "\n".join(parts)
    return str(content)


@dataclass(frozen=True, slots=True)
class Conversation:
    """What one request's messages say about its conversation, before any text is dropped."""

    last_user_text: str
    system_text: str
    n_messages: int
    n_user_turns: int
    n_assistant_turns: int
    prompt_chars: int


def read_conversation(messages: list[dict[str, Any]] | None, prompt: str | None) -> Conversation:
    if not messages:
        text = prompt or ""
        return Conversation(text, "", 1 if text else 0, 1 if text else 0, 0, len(text))
    last_user = ""
    system_parts: list[str] = []
    n_user = n_assistant = 0
    chars = 0
    for message in messages:
        role = message.get("role")
        text = content_text(message.get("content"))
        chars += len(text)
        if role == "user":
            n_user += 1
            last_user = text
        elif role == "assistant":
            n_assistant += 1
        elif role in ("system", "developer"):
            system_parts.append(text)
    if prompt:
        last_user = last_user or prompt
        chars += len(prompt)
    return Conversation(last_user, "\n".join(system_parts), len(messages), n_user, n_assistant, chars)


def text_signals(last_user_text: str) -> dict[str, str | None]:
    """Hashes and hashed tokens of the last user turn; None for an empty turn."""
    if not last_user_text.strip():
        return {"text_hash": None, "template_hash": None, "token_hashes": None}
    text_hash, template_hash, token_hashes = _slot_hashes(last_user_text, MAX_TOKENS_KEPT)
    return {"text_hash": text_hash, "template_hash": template_hash, "token_hashes": token_hashes}
