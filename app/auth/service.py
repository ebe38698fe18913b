"""API keys: one role each, stored as a SHA-256 hash (keys are 256-bit random, so no slow hash is needed)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from app.audit import repository as audit
from app.auth import repository
from app.auth.models import ApiKey
from app.errors import BadRequest, NotFound, Unauthorized

KEY_PREFIX = "dg_"
TOUCH_EVERY = timedelta(minutes=1)


class Role(StrEnum):
    ingest = "ingest"
    analyst = "analyst"
    admin = "admin"


def role_allows(held: str, required: Role) -> bool:
    """admin may do everything; ingest and analyst only their own work."""
    return held == Role.admin or held == required


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}:{self.name}"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_key(*, session: Session, role: str, name: str, actor: str = "cli") -> tuple[ApiKey, str]:
    try:
        parsed_role = Role(role)
    except ValueError:
        raise BadRequest(f"unknown role {role!r}", {"roles": [r.value for r in Role]}) from None
    if not name.strip():
        raise BadRequest("a key needs a name")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name.strip(), role=parsed_role.value, key_hash=hash_key(raw), prefix=raw[:10], created_at=datetime.now(UTC)
    )
    repository.add(session=session, key=key)
    audit.append(
        session=session, actor=actor, action="key.create", target_type="api_key", target_id=str(key.id),
        detail={"name": key.name, "role": key.role},
    )  # fmt: skip
    return key, raw


def revoke_key(*, session: Session, key_id: int, actor: str = "cli") -> ApiKey:
    key = repository.by_id(session=session, key_id=key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        audit.append(session=session, actor=actor, action="key.revoke", target_type="api_key", target_id=str(key_id))
    return key


def list_keys(*, session: Session) -> list[ApiKey]:
    return repository.list_all(session=session)


def authenticate(*, session: Session, raw_key: str) -> Principal:
    key = repository.by_hash(session=session, key_hash=hash_key(raw_key))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    now = datetime.now(UTC)
    last = key.last_used_at
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > TOUCH_EVERY:
        repository.touch(session=session, key_id=key.id, at=now)
    return Principal(key_id=key.id, name=key.name, role=Role(key.role))


class KeyCache:
    """Keys authenticated in the last ``ttl_seconds``, so that a hot read endpoint (an enforcement pipeline polls
    account risk per request) does not look its caller's key up in the database every time.

    Revoking a key through this process empties the cache at once; a revocation made elsewhere (the CLI, another
    worker process) takes effect here within ``ttl_seconds``.  ``ttl_seconds <= 0`` disables the cache.
    """

    def __init__(self, ttl_seconds: float, *, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            with self._lock:
                self._entries.pop(key_hash, None)
            return None
        return entry[0]

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # unbounded keys would be a memory leak; a cold cache only costs lookups
            self._entries[key_hash] = (principal, time.monotonic() + self.ttl_seconds)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
