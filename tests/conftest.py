"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``DISTILLGUARD_TEST_POSTGRES_URL`` (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``); each test session creates its own database
there and drops it afterwards. The schema is always built by ``alembic upgrade head``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import migrate
from app.auth import service as keys_service
from app.config import Settings
from app.db import make_engine, session_factory
from app.main import create_app
from app.models import Base

POSTGRES_ADMIN_URL = os.environ.get("DISTILLGUARD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_ADMIN_URL else ["sqlite"]

if os.environ.get("CI") and not POSTGRES_ADMIN_URL:
    raise RuntimeError("CI must test PostgreSQL too: set DISTILLGUARD_TEST_POSTGRES_URL (scripts/test.sh does)")


def _postgres_database() -> Iterator[str]:
    assert POSTGRES_ADMIN_URL is not None
    admin_url = make_url(Settings(database_url=POSTGRES_ADMIN_URL).database_url)
    name = f"distillguard_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database per backend for the whole test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'distillguard.db'}"
        migrate.upgrade(url)
        yield url
    else:
        for url in _postgres_database():
            migrate.upgrade(url)
            yield url


def _empty_all_tables(url: str) -> None:
    engine = make_engine(url)
    names = [table.name for table in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(names):
                conn.execute(text(f"DELETE FROM {name}"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings on an emptied database (tables truncated, schema kept)."""
    _empty_all_tables(database_url)
    return Settings(database_url=database_url, auto_migrate=False, log_level="WARNING", embedded_worker=False)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def db_session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    finally:
        session.close()
        engine.dispose()


@pytest.fixture
def make_key(settings: Settings) -> Iterator[Callable[[str], str]]:
    """make_key(role) -> a raw API key of that role, stored in the test database."""
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)

    def _make(role: str) -> str:
        with sessions.begin() as session:
            _, raw = keys_service.create_key(session=session, role=role, name=f"test-{role}")
        return raw

    yield _make
    engine.dispose()


@pytest.fixture
def auth_headers(make_key: Callable[[str], str]) -> Callable[[str], dict[str, str]]:
    def _headers(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_key(role)}"}

    return _headers
