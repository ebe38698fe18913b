"""Route guards. Every API route declares the role it needs with ``requires(Role.x)``.

Each role has its own bearer security scheme (``ingestKey``, ``analystKey``, ``adminKey``), so the
OpenAPI schema says which role every operation needs; a test walks the schema and proves each
operation rejects a missing key (401) and a key of too small a role (403).
"""

# no `from __future__ import annotations`: FastAPI must resolve the closure's Depends() at definition time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.service import Principal, Role, authenticate, role_allows
from app.db import SessionDep
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


def requires(role: Role) -> Callable[..., Principal]:
    bearer = _BEARERS[role]

    def guard(
        request: Request,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)  # e.g. a console session
        if principal is None:
            if credentials is None or not credentials.credentials:
                raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
            principal = authenticate(session=session, raw_key=credentials.credentials)
        if not role_allows(principal.role, role):
            raise Forbidden(f"this needs the {role.value} role; the key has {principal.role.value}")
        request.state.principal = principal
        return principal

    return guard


IngestKey = Annotated[Principal, Depends(requires(Role.ingest))]
AnalystKey = Annotated[Principal, Depends(requires(Role.analyst))]
AdminKey = Annotated[Principal, Depends(requires(Role.admin))]
