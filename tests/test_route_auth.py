"""Every route of the OpenAPI schema declares a role and enforces it: 401 without a key, 403 with too small a role."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

PUBLIC_OPERATIONS = {("get", "/healthz"), ("get", "/metrics")}
SCHEME_ROLE = {"ingestKey": "ingest", "analystKey": "analyst", "adminKey": "admin"}
# the key of the largest role that must still be refused
TOO_SMALL = {"ingest": "analyst", "analyst": "ingest", "admin": "analyst"}


def _operations(client: TestClient) -> list[tuple[str, str, str | None]]:
    schema = client.get("/openapi.json").json()
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            schemes = [name for requirement in operation.get("security", []) for name in requirement]
            roles = {SCHEME_ROLE[name] for name in schemes if name in SCHEME_ROLE}
            assert len(roles) <= 1, f"{method} {path} declares several roles: {roles}"
            found.append((method, path, roles.pop() if roles else None))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_operation_declares_a_role(client: TestClient) -> None:
    for method, path, role in _operations(client):
        if (method, path) in PUBLIC_OPERATIONS:
            assert role is None
        else:
            assert role is not None, f"{method.upper()} {path} declares no role"


def test_every_protected_operation_rejects_missing_and_weak_keys(
    client: TestClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    weak = {role: auth_headers(role) for role in ("ingest", "analyst")}
    checked = 0
    for method, path, role in _operations(client):
        if role is None:
            continue
        url = _concrete(path)
        missing = client.request(method, url)
        assert missing.status_code == 401, f"{method.upper()} {path} without a key gave {missing.status_code}"
        assert missing.json()["error"]
        wrong = client.request(method, url, headers=weak[TOO_SMALL[role]])
        assert wrong.status_code == 403, (
            f"{method.upper()} {path} with a {TOO_SMALL[role]} key gave {wrong.status_code}"
        )
        bogus = client.request(method, url, headers={"Authorization": "Bearer dg_not_a_real_key"})
        assert bogus.status_code == 401
        checked += 1
    assert checked >= 3


def test_public_operations_need_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "distillguard_http_requests_total" in metrics.text
