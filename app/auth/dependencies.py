"""Route guards. Every API route declares the role it needs with ``requires(Role.x)``.

Each role has its own bearer security scheme (``ingestKey``, ``analystKey``, ``adminKey``), so the
OpenAPI schema says which role every operation needs; a test walks the schema and proves each
operation rejects a missing key (401) and a key of too small a role (403).
"""

# no `from __future__ import annotations`: FastAPI must resolve the closure's Depends() at definition time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.auth.service import KeyCache, Principal, Role, authenticate, hash_key, role_allows
from app.errors import Forbidden, Unauthorized


def scheme_name(role: Role) -> str:
    return f"{role.value}Key"


_ROLE_DESCRIPTIONS = {
    Role.ingest: "API key with the ingest role (write events and account metadata)",
    Role.analyst: "API key with the analyst role (read scores, review clusters); admin keys also pass",
    Role.admin: "API key with the admin role (everything)",
}
_BEARERS = {
    role: HTTPBearer(auto_error=False, scheme_name=scheme_name(role), description=_ROLE_DESCRIPTIONS[role])
    for role in Role
}


def requires(role: Role) -> Callable[..., Awaitable[Principal]]:
    bearer = _BEARERS[role]

    async def guard(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)  # e.g. a console session
        if principal is None:
            if credentials is None or not credentials.credentials:
                raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
            principal = await _principal(request, credentials.credentials)
        if not role_allows(principal.role, role):
            raise Forbidden(f"this needs the {role.value} role; the key has {principal.role.value}")
        request.state.principal = principal
        return principal

    return guard


async def _principal(request: Request, raw_key: str) -> Principal:
    """The key's principal: from the short-lived cache, else looked up (and its last use recorded) in a
    transaction of its own, in one worker-thread hop."""
    cache: KeyCache = request.app.state.key_cache
    key_hash = hash_key(raw_key)
    principal = cache.get(key_hash)
    if principal is None:
        principal = await run_in_threadpool(_authenticate, request.app.state.sessionmaker, raw_key)
        cache.put(key_hash, principal)
    return principal


def _authenticate(sessions: sessionmaker[Session], raw_key: str) -> Principal:
    with sessions.begin() as session:
        return authenticate(session=session, raw_key=raw_key)


IngestKey = Annotated[Principal, Depends(requires(Role.ingest))]
AnalystKey = Annotated[Principal, Depends(requires(Role.analyst))]
AdminKey = Annotated[Principal, Depends(requires(Role.admin))]
