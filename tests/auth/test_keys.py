from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.audit.models import AuditEntry
from app.auth import service as keys_service
from app.auth.models import ApiKey
from app.auth.service import hash_key
from app.cli import cli
from app.config import Settings, get_settings
from app.main import create_app


def test_raw_key_is_never_stored(client: TestClient, make_key: Callable[[str], str], db_session: Session) -> None:
    raw = make_key("admin")
    stored = db_session.scalars(select(ApiKey)).one()
    assert raw not in (stored.key_hash, stored.prefix, stored.name)
    assert stored.key_hash == hash_key(raw)


def test_admin_creates_lists_and_revokes_keys(
    client: TestClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    admin = auth_headers("admin")
    created = client.post("/v1/keys", json={"role": "ingest", "name": "gateway"}, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["role"] == "ingest" and body["key"].startswith("dg_")
    ingest = {"Authorization": f"Bearer {body['key']}"}
    assert client.get("/v1/keys", headers=ingest).status_code == 403
    listed = client.get("/v1/keys", headers=admin).json()
    assert {k["name"] for k in listed} >= {"gateway"}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    revoked = client.delete(f"/v1/keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/v1/keys", headers=ingest).status_code == 401


def test_unknown_role_and_missing_key_are_clear_errors(
    client: TestClient, auth_headers: Callable[[str], dict[str, str]]
) -> None:
    admin = auth_headers("admin")
    bad = client.post("/v1/keys", json={"role": "root", "name": "x"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid request"
    assert client.delete("/v1/keys/999999", headers=admin).status_code == 404


def test_key_actions_are_audited(
    client: TestClient, auth_headers: Callable[[str], dict[str, str]], db_session: Session
) -> None:
    admin = auth_headers("admin")
    key_id = client.post("/v1/keys", json={"role": "analyst", "name": "alice"}, headers=admin).json()["id"]
    client.delete(f"/v1/keys/{key_id}", headers=admin)
    actions = [e.action for e in db_session.scalars(select(AuditEntry).where(AuditEntry.target_id == str(key_id)))]
    assert actions == ["key.create", "key.revoke"]


def test_cli_creates_a_key_on_a_fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh' / 'dg.db'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["keys", "create", "--role", "admin", "--name", "root"])
        assert result.exit_code == 0, result.output
        raw = result.output.strip().splitlines()[-1]
        assert raw.startswith("dg_") and len(raw) > 40
        listed = CliRunner().invoke(cli, ["keys", "list"])
        assert "root" in listed.output and raw not in listed.output
    finally:
        get_settings.cache_clear()


def test_a_revocation_made_elsewhere_takes_effect_within_the_cache_lifetime(
    settings: Settings, make_key: Callable[[str], str], db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = make_key("analyst")
    headers = {"Authorization": f"Bearer {raw}"}
    clock = [1000.0]
    monkeypatch.setattr(keys_service.time, "monotonic", lambda: clock[0])
    with TestClient(create_app(settings.model_copy(update={"api_key_cache_seconds": 5.0}))) as client:
        assert client.get("/v1/clusters", headers=headers).status_code == 200  # authenticated, now cached
        key = db_session.scalars(select(ApiKey)).one()
        keys_service.revoke_key(session=db_session, key_id=key.id, actor="cli")  # as the CLI would, elsewhere
        db_session.commit()
        clock[0] += 4.0
        assert client.get("/v1/clusters", headers=headers).status_code == 200  # still inside the cache lifetime
        clock[0] += 2.0
        assert client.get("/v1/clusters", headers=headers).status_code == 401


def test_without_the_cache_every_request_looks_the_key_up(
    settings: Settings, make_key: Callable[[str], str], db_session: Session
) -> None:
    raw = make_key("analyst")
    headers = {"Authorization": f"Bearer {raw}"}
    with TestClient(create_app(settings.model_copy(update={"api_key_cache_seconds": 0.0}))) as client:
        assert client.get("/v1/clusters", headers=headers).status_code == 200
        key = db_session.scalars(select(ApiKey)).one()
        keys_service.revoke_key(session=db_session, key_id=key.id, actor="cli")
        db_session.commit()
        assert client.get("/v1/clusters", headers=headers).status_code == 401


def test_key_cache_is_bounded() -> None:
    cache = keys_service.KeyCache(60.0, max_entries=3)
    principal = keys_service.Principal(key_id=1, name="a", role=keys_service.Role.analyst)
    for n in range(10):
        cache.put(f"hash-{n}", principal)
    assert len(cache._entries) <= 3
    assert cache.get("hash-9") == principal
    assert cache.get("hash-0") is None
