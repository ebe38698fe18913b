"""Console sessions: a signed cookie naming the API key that logged in, and a CSRF token for every form.

The cookie holds no secret (only the key's id, the CSRF token and a timestamp), is HMAC-SHA256 signed
with ``settings.session_secret`` (random per process when unset), HttpOnly and SameSite=Lax. Every
request re-reads the key, so revoking a key ends its console sessions at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson
from fastapi import Request, Response
from sqlalchemy.orm import Session

from app.auth import repository as keys
from app.auth.service import Principal, Role

COOKIE = "dg_console"
MAX_AGE = 12 * 3600
CONSOLE_ROLES = (Role.analyst, Role.admin)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    csrf: str
    issued_at: int
    key_id: int | None = None
    flash: str | None = None

    @classmethod
    def anonymous(cls) -> ConsoleSession:
        return cls(csrf=secrets.token_urlsafe(24), issued_at=int(time.time()))

    def logged_in(self, key_id: int) -> ConsoleSession:
        # a fresh CSRF token at login, so a token planted before it is worthless after
        return ConsoleSession(csrf=secrets.token_urlsafe(24), issued_at=int(time.time()), key_id=key_id)

    def with_flash(self, message: str | None) -> ConsoleSession:
        return replace(self, flash=message)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def dumps(self, session: ConsoleSession) -> str:
        payload = _b64(orjson.dumps(asdict(session)))
        return f"{payload}.{self._sign(payload)}"

    def loads(self, value: str, *, now: float | None = None) -> ConsoleSession | None:
        payload, _, signature = value.partition(".")
        if not signature or not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data: dict[str, Any] = orjson.loads(_unb64(payload))
            session = ConsoleSession(**data)
        except (ValueError, TypeError, binascii.Error):
            return None
        if (time.time() if now is None else now) - session.issued_at > MAX_AGE:
            return None
        return session


def codec(request: Request) -> SessionCodec:
    state = request.app.state
    existing: SessionCodec | None = getattr(state, "console_codec", None)
    if existing is None:
        secret = state.settings.session_secret
        existing = SessionCodec(secret.encode() if secret else secrets.token_bytes(32))
        state.console_codec = existing
    return existing


def load(request: Request) -> ConsoleSession:
    """The request's session (anonymous if the cookie is missing, forged or expired); cached on the request."""
    cached: ConsoleSession | None = getattr(request.state, "console_session", None)
    if cached is not None:
        return cached
    raw = request.cookies.get(COOKIE)
    session = codec(request).loads(raw) if raw else None
    if session is None:  # missing, forged or expired: a new session, which the response must set
        session = ConsoleSession.anonymous()
        request.state.console_session_new = True
    request.state.console_session = session
    return session


def is_new(request: Request) -> bool:
    return bool(getattr(request.state, "console_session_new", False))


def save(request: Request, response: Response, session: ConsoleSession) -> None:
    request.state.console_session = session
    request.state.console_session_new = False
    response.set_cookie(
        COOKIE, codec(request).dumps(session), max_age=MAX_AGE, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def principal(*, db: Session, session: ConsoleSession) -> Principal | None:
    """The logged-in key, if it still exists, is not revoked and may use the console."""
    if session.key_id is None:
        return None
    key = keys.by_id(session=db, key_id=session.key_id)
    if key is None or key.revoked_at is not None or key.role not in CONSOLE_ROLES:
        return None
    return Principal(key_id=key.id, name=key.name, role=Role(key.role))


def csrf_ok(session: ConsoleSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), (token or "").encode())
