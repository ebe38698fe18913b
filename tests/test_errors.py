from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.errors import Conflict
from app.main import create_app


def _app_with_failing_routes(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    @app.get("/conflict")
    def conflict() -> None:
        raise Conflict("already decided", {"cluster_id": "c1"})

    return app


def test_unexpected_errors_never_leak_a_trace(settings: Settings) -> None:
    with TestClient(_app_with_failing_routes(settings), raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error", "detail": {"request_id": "req-123"}}
    assert "Traceback" not in response.text and "passwd" not in response.text


def test_app_errors_carry_their_status_and_detail(settings: Settings) -> None:
    with TestClient(_app_with_failing_routes(settings)) as client:
        response = client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == {"error": "already decided", "detail": {"cluster_id": "c1"}}


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nope")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "detail"}
    assert response.headers["X-Request-ID"]


def test_placeholder_secrets_are_refused() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="placeholder"):
        Settings(session_secret="changeme")
    assert Settings(session_secret="a" * 32).session_secret == "a" * 32


def test_postgres_urls_use_psycopg3() -> None:
    assert Settings(database_url="postgresql://u@h/db").database_url == "postgresql+psycopg://u@h/db"
