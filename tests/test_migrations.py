"""The schema comes only from Alembic, and the migrations build exactly what the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from app import migrate
from app.db import make_engine
from app.models import Base


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], f"models and migrations disagree: {differences}"


def test_database_is_at_the_single_head(database_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(database_url))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == heads[0]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_audit_log_refuses_updates_on_postgresql(database_url: str) -> None:
    engine = make_engine(database_url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        pytest.skip("SQLite has no trigger language for this; the code path never updates the log anyway")
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, target_type, target_id, detail) "
                    "VALUES (now(), 'test', 'x', 'cluster', 'c1', '{}')"
                )
            )
        failed = False
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
        except Exception:
            failed = True
        assert failed, "an UPDATE of the audit log must be refused"
    finally:
        engine.dispose()


def test_artifacts_are_stored_without_a_compression_attempt_on_postgresql(database_url: str) -> None:
    """The ~180 MB feature state is written by every full run; pglz compression of it cost more than the run."""
    engine = make_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            pytest.skip("column storage is a PostgreSQL setting; SQLite stores blobs as they are")
        with engine.connect() as conn:
            storage = conn.execute(
                text(
                    "SELECT a.attstorage FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid "
                    "WHERE c.relname = 'detection_artifacts' AND a.attname = 'payload'"
                )
            ).scalar_one()
        assert storage == "e"  # EXTERNAL: out of line, uncompressed
    finally:
        engine.dispose()
