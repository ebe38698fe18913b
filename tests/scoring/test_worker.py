"""The runs queue: atomic claims, heartbeats, stale runs, crashes that leave the previous results, the scheduler."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.main import create_app
from app.scoring import execution, persist, repository, service, worker
from app.scoring.models import AccountScore, Cluster, DetectionRun
from tests.scoring.conftest import events_sorted, ingest, population, run_detection


def _queue(sessions: sessionmaker[Session], mode: str = "incremental") -> str:
    with sessions.begin() as session:
        return service.request_run(session=session, mode=mode, requested_by="test").id


def _run(sessions: sessionmaker[Session], run_id: str) -> DetectionRun:
    with sessions() as session:
        run = repository.get_run(session=session, run_id=run_id)
        assert run is not None
        return run


def _scores(sessions: sessionmaker[Session]) -> dict[str, tuple[float, bool, str | None]]:
    with sessions() as session:
        rows = session.execute(select(AccountScore.account_id, AccountScore.risk_score, AccountScore.flagged,
                                      AccountScore.run_id)).all()  # fmt: skip
    return {account_id: (score, flagged, run_id) for account_id, score, flagged, run_id in rows}


def test_a_run_is_claimed_once_and_never_two_at_a_time(sessions: sessionmaker[Session]) -> None:
    first = _queue(sessions)
    with sessions.begin() as session:  # a second request while the first waits joins it
        assert service.request_run(session=session, mode="incremental", requested_by="t").id == first
    assert worker.claim(sessions) == first
    second = _queue(sessions)
    assert second != first
    assert worker.claim(sessions) is None, "no second run while one is running"
    assert _run(sessions, first).status == "running" and _run(sessions, second).status == "queued"


def test_stale_running_runs_fail_and_free_the_queue(sessions: sessionmaker[Session]) -> None:
    stale = _queue(sessions)
    assert worker.claim(sessions) == stale
    with sessions.begin() as session:
        session.execute(update(DetectionRun).where(DetectionRun.id == stale)
                        .values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1)))  # fmt: skip
    waiting = _queue(sessions)
    assert worker.recover_stale_runs(sessions) == [stale]
    failed = _run(sessions, stale)
    assert failed.status == "failed" and failed.finished_at is not None and "heartbeat" in (failed.error or "")
    assert worker.claim(sessions) == waiting


def test_heartbeat_refreshes_only_running_runs(sessions: sessionmaker[Session]) -> None:
    run_id = _queue(sessions)
    with sessions.begin() as session:
        assert not repository.heartbeat(session=session, run_id=run_id, now=datetime.now(UTC))
    worker.claim(sessions)
    later = datetime.now(UTC) + timedelta(seconds=30)
    with sessions.begin() as session:
        assert repository.heartbeat(session=session, run_id=run_id, now=later)


@pytest.fixture
def first_run(sessions: sessionmaker[Session], settings: Settings) -> dict[str, tuple[float, bool, str | None]]:
    pop = population()
    ingest(sessions, events_sorted(pop), pop.accounts)
    assert run_detection(sessions, settings, "full").status == "done"
    return _scores(sessions)


@pytest.mark.parametrize("stage", ["detect", "link"])
def test_a_crash_while_computing_fails_the_run_and_keeps_the_previous_results(
    sessions: sessionmaker[Session], settings: Settings, first_run: Any, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """``link`` runs on a thread of its own while the features are computed: its crash must reach the run too."""

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError(f"simulated crash in {stage}")

    monkeypatch.setattr(execution.pipeline, stage, explode)
    run = run_detection(sessions, settings, "full")
    assert run.status == "failed" and f"simulated crash in {stage}" in (run.error or "") and run.finished_at is not None
    assert _scores(sessions) == first_run


def test_a_crash_while_writing_leaves_no_half_written_results(
    sessions: sessionmaker[Session], settings: Settings, first_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session:
        clusters_before = {c.cluster_id: (c.score, c.size, c.last_run_id) for c in session.scalars(select(Cluster))}

    def explode(**kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    # scores are replaced first, then clusters: a failure there must roll the scores back too
    monkeypatch.setattr(persist, "write_clusters", explode)
    run = run_detection(sessions, settings, "full")
    assert run.status == "failed" and "disk full" in (run.error or "")
    assert _scores(sessions) == first_run
    with sessions() as session:
        assert {c.cluster_id: (c.score, c.size, c.last_run_id) for c in session.scalars(select(Cluster))} == \
            clusters_before  # fmt: skip


def test_results_of_a_run_failed_meanwhile_are_discarded(
    sessions: sessionmaker[Session], settings: Settings, first_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = execution.pipeline.detect

    def detect_then_get_declared_dead(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        with sessions.begin() as session:  # another worker decided this run's worker had died
            session.execute(update(DetectionRun).where(DetectionRun.status == "running").values(status="failed"))
        return result

    monkeypatch.setattr(execution.pipeline, "detect", detect_then_get_declared_dead)
    run = run_detection(sessions, settings, "full")
    assert run.status == "failed"
    assert _scores(sessions) == first_run


def test_scheduler_queues_only_when_new_events_arrived(
    sessions: sessionmaker[Session], settings: Settings, first_run: Any
) -> None:
    assert worker.schedule_if_due(sessions) is None
    ingest(sessions, [{**events_sorted(population())[0], "request_id": "late-1", "ts": 1_900_000_000.0}])
    queued = worker.schedule_if_due(sessions)
    assert queued is not None and _run(sessions, queued).mode == "incremental"
    assert worker.schedule_if_due(sessions) is None, "one waiting run is enough"


def test_scheduler_makes_its_run_full_once_the_last_full_run_is_old(
    sessions: sessionmaker[Session], settings: Settings, first_run: Any
) -> None:
    day = timedelta(days=1)
    # the first run was full and just finished: nothing new arrived, so nothing is due
    assert worker.schedule_if_due(sessions, full_every=day) is None
    with sessions.begin() as session:
        session.execute(update(DetectionRun).values(finished_at=datetime.now(UTC) - 2 * day))
    # a day later a full run is due even without new event ids (late-committed batches have old ids)
    queued = worker.schedule_if_due(sessions, full_every=day)
    assert queued is not None and _run(sessions, queued).mode == "full"
    assert _run(sessions, run_detection_queued(sessions, settings, queued)).status == "done"
    ingest(sessions, [{**events_sorted(population())[0], "request_id": "late-2", "ts": 1_900_000_000.0}])
    queued = worker.schedule_if_due(sessions, full_every=day)
    assert queued is not None and _run(sessions, queued).mode == "incremental", "the last full run is recent"


def run_detection_queued(sessions: sessionmaker[Session], settings: Settings, run_id: str) -> str:
    executed = worker.run_once(sessions, settings)
    assert executed == run_id
    return run_id


def test_the_embedded_worker_executes_runs_requested_over_http(
    settings: Settings, auth_headers: Any, sessions: sessionmaker[Session]
) -> None:
    pop = population()
    ingest(sessions, events_sorted(pop)[:1500], pop.accounts)
    embedded = settings.model_copy(update={"embedded_worker": True})
    with TestClient(create_app(embedded)) as client:
        run = client.post("/v1/detection/runs", json={"mode": "full"}, headers=auth_headers("admin")).json()
        analyst = auth_headers("analyst")
        deadline = time.monotonic() + 120
        status = run["status"]
        while status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            status = client.get(f"/v1/detection/runs/{run['id']}", headers=analyst).json()["status"]
        assert status == "done"
        assert client.get("/v1/accounts", params={"flagged": "true"}, headers=analyst).json()["items"]
    assert client.app.state.detection_worker._thread is not None  # type: ignore[attr-defined]
    assert not client.app.state.detection_worker._thread.is_alive(), "shutdown stops the worker"  # type: ignore[attr-defined]


def test_a_run_over_an_empty_database_finishes(sessions: sessionmaker[Session], settings: Settings) -> None:
    for mode in ("full", "incremental"):
        run = run_detection(sessions, settings, mode)
        assert run.status == "done", run.error
        assert run.stats["accounts_scored"] == 0 and run.stats["events_in_window"] == 0


def test_a_crash_while_adding_new_events_fails_the_incremental_run_and_keeps_the_previous_results(
    sessions: sessionmaker[Session], settings: Settings, first_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incremental run adds its new events to the feature state while linking runs on a thread of its own: a
    crash there fails the run, and a retry adds the same events."""
    again = [{**event, "request_id": f"{event['request_id']}-again"} for event in events_sorted(population())[-50:]]
    ingest(sessions, again)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("simulated crash adding events")

    monkeypatch.setattr(execution.pipeline, "update_feature_state", explode)
    run = run_detection(sessions, settings, "incremental")
    assert run.status == "failed" and "simulated crash adding events" in (run.error or "")
    assert _scores(sessions) == first_run
    # the run let go of the old window as soon as it had built the new one: the retry reloads it from the database
    assert execution._window is None
    monkeypatch.undo()
    retried = run_detection(sessions, settings, "incremental")
    assert retried.status == "done" and retried.stats["events_processed"] == len(again)
