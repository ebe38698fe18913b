"""Engine, declarative base and the session dependency — the one place that commits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from sqlalchemy import JSON, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_serializer(value: Any) -> str:
    """JSON columns' serializer: orjson (a detection run writes ~25,000 score rows with ~70 features each; the
    standard library's encoder cost ~2.5 s of it), falling back to the standard encoder for anything orjson
    refuses, so nothing the standard one accepted starts failing."""
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; an SQLite file's folder is created so the default needs no setup."""
    kwargs.setdefault("json_serializer", json_serializer)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """Request-scoped session: committed when the handler returns, rolled back if it raises."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens before the response is sent, so a failed commit is never reported as success
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


T = TypeVar("T")


async def read_in_thread(request: Request, query: Callable[..., T], /, **kwargs: Any) -> T:
    """``query(session=..., **kwargs)`` in one worker-thread hop with a session of its own, rolled back after.

    For hot read-only endpoints written as ``async def``: a sync route with ``SessionDep`` costs three thread hops
    (open the session, the handler, close it), each more than the primary-key read it serves.
    """

    def call() -> T:
        with request.app.state.sessionmaker() as session:
            return query(session=session, **kwargs)

    return await run_in_threadpool(call)
