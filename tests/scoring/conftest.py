"""Scoring fixtures: a small seeded simulated population, loaded through the real ingest path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, session_factory
from app.ingest.service import ingest_records, upsert_accounts
from app.scoring import execution, repository, service, worker
from app.scoring.models import DetectionRun
from app.simulation import Population, SimulationConfig, simulate

# Small but complete: every campaign archetype and hard negative, a few thousand events (a run takes seconds).
SMALL = SimulationConfig(
    seed=5,
    scale=0.05,
    days=3,
    params={
        "campaigns": {"bulk": {"requests_per_day": 120}, "reseller": {"requests_per_day": 100}},
        "personas": {"batch_job": {"requests_per_day": 60}, "eval_runner": {"questions": 60}},
    },
)


@lru_cache(maxsize=2)
def population(config: SimulationConfig = SMALL) -> Population:
    return simulate(config)


def events_sorted(pop: Population) -> list[dict[str, Any]]:
    return sorted((dict(event) for event in pop.events), key=lambda event: (event["ts"], event["request_id"]))


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    execution.forget_window()
    engine = make_engine(settings.database_url)
    yield session_factory(engine)
    execution.forget_window()
    engine.dispose()


def ingest(
    sessions: sessionmaker[Session], events: Sequence[dict[str, Any]], accounts: Sequence[dict[str, Any]] = ()
) -> int:
    with sessions.begin() as session:
        if accounts:
            upsert_accounts(session=session, records=[dict(a) for a in accounts])
        result = ingest_records(session=session, records=[dict(e) for e in events], retention="full")
    return result.accepted


def run_detection(sessions: sessionmaker[Session], settings: Settings, mode: str = "incremental") -> DetectionRun:
    """Queue a run and execute it in this thread, as the worker would; the finished run."""
    with sessions.begin() as session:
        run_id = service.request_run(session=session, mode=mode, requested_by="test").id
    assert worker.run_once(sessions, settings) == run_id
    with sessions() as session:
        run = repository.get_run(session=session, run_id=run_id)
        assert run is not None
        return run
