"""Secrets gateways leak into logs are removed before storage."""

from __future__ import annotations

import hashlib

import pytest

from app.ingest.scrub import key_identity, scrub_content, scrub_messages, scrub_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-" + "A1b2C3d4" * 3 + " here", "key [REDACTED] here"),
        ("sk-ant-api03-" + "x" * 40, "[REDACTED]"),
        ("Authorization: Bearer eyJhbGciOi.J9.abc-def_123", "Authorization: Bearer [REDACTED]"),
        ("BEARER abcdefgh12345678", "BEARER [REDACTED]"),
        ("ask-questions-about-this and sk-short", "ask-questions-about-this and sk-short"),
        ("a bearer of bad news", "a bearer of bad news"),
    ],
)
def test_keys_and_bearer_tokens_are_redacted(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_clean_content_comes_back_as_the_same_object() -> None:
    parts = [{"type": "text", "text": "hello"}, "plain"]
    assert scrub_content(parts) is parts
    messages = [{"role": "user", "content": "fine"}, {"role": "assistant", "content": "sk-" + "z" * 20}]
    assert scrub_messages(messages) is messages  # assistant turns are neither stored nor hashed


def test_content_parts_are_scrubbed_without_touching_the_input() -> None:
    secret = "sk-" + "q" * 24
    messages = [{"role": "user", "content": [{"type": "text", "text": f"use {secret}"}]}]
    clean = scrub_messages(messages)
    assert clean[0]["content"][0]["text"] == "use [REDACTED]"
    assert messages[0]["content"][0]["text"] == f"use {secret}"


def test_raw_keys_become_their_sha256_and_hashes_stay() -> None:
    digest = hashlib.sha256(b"my-proxy-token").hexdigest()
    assert key_identity("my-proxy-token") == digest
    assert key_identity(digest) == digest
    assert key_identity("litellm_proxy_master_key") == "litellm_proxy_master_key"
