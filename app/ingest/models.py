"""Stored request events and account metadata.

Event columns mirror ``detectors.events.EVENT_COLUMNS`` (checked by a test); ``ts`` is stored as
epoch seconds (UTC by definition) so that bulk loads into pandas stay cheap on both databases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[str] = mapped_column(String(200))
    ts: Mapped[float] = mapped_column(Float)
    ingested_at: Mapped[float] = mapped_column(Float)
    api_key_id: Mapped[str | None] = mapped_column(String(200))
    org_id: Mapped[str | None] = mapped_column(String(200))
    end_user_id: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    tls_fingerprint: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    endpoint: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(200))
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    n: Mapped[int | None] = mapped_column(Integer)
    temperature: Mapped[float | None] = mapped_column(Float)
    top_p: Mapped[float | None] = mapped_column(Float)
    stream: Mapped[bool | None] = mapped_column(Boolean)
    tools: Mapped[int | None] = mapped_column(Integer)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    n_messages: Mapped[int | None] = mapped_column(Integer)
    n_user_turns: Mapped[int | None] = mapped_column(Integer)
    n_assistant_turns: Mapped[int | None] = mapped_column(Integer)
    has_system: Mapped[bool | None] = mapped_column(Boolean)
    prompt_chars: Mapped[int | None] = mapped_column(Integer)
    cot_score: Mapped[float | None] = mapped_column(Float)
    rubric_score: Mapped[float | None] = mapped_column(Float)
    text_hash: Mapped[str | None] = mapped_column(String(32))
    template_hash: Mapped[str | None] = mapped_column(String(32))
    token_hashes: Mapped[str | None] = mapped_column(Text)
    prompt_text: Mapped[str | None] = mapped_column(Text)
    system_text: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_events_account_id_ts", "account_id", "ts"),
        Index("ix_events_ts", "ts"),
        Index("ix_events_ip", "ip"),
    )


class Account(Base):
    """Every account seen, in events or in metadata; metadata fields stay null until posted."""

    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_domain: Mapped[str | None] = mapped_column(String(255))
    payment_fingerprint: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    signup_channel: Mapped[str | None] = mapped_column(String(100))
    org_id: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(100))
    has_metadata: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[float | None] = mapped_column(Float)  # epoch seconds of its first / last event
    last_seen: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_accounts_payment_fingerprint", "payment_fingerprint"),)
