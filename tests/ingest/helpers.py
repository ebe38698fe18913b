"""Procedural events and small helpers for the ingest tests (no shared corpora)."""

from __future__ import annotations

import random
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

WORDS = (
    "explain", "the", "difference", "between", "lists", "and", "tuples", "write", "a", "function", "that",
    "sorts", "numbers", "summarise", "this", "article", "about", "rivers", "translate", "into", "french",
)  # fmt: skip


def make_event(i: int, *, seed: int = 0, **overrides: Any) -> dict[str, Any]:
    rng = random.Random(seed * 1_000_003 + i)
    event: dict[str, Any] = {
        "request_id": f"req-{seed}-{i}",
        "account_id": f"acct-{rng.randrange(20)}",
        "ts": 1_767_225_600 + i * 1.5,
        "ip": f"198.51.100.{rng.randrange(1, 255)}",
        "user_agent": "python-httpx/0.27.0",
        "model": "frontier-1",
        "endpoint": "/v1/chat/completions",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(12)) + f" #{i}"},
        ],
        "max_tokens": 512,
        "temperature": 0.7,
        "stream": False,
        "prompt_tokens": rng.randrange(10, 500),
        "completion_tokens": rng.randrange(10, 500),
        "status": 200,
        "latency_ms": 812.5,
    }
    event.update(overrides)
    return event


def ndjson(records: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def rows(session: Session, sql: str, **params: Any) -> list[Any]:
    session.rollback()  # see the other connections' latest commits
    return list(session.execute(text(sql), params))


def count(session: Session, table: str = "events") -> int:
    return int(rows(session, f"SELECT count(*) FROM {table}")[0][0])
