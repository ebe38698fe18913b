"""Executes queued detection runs: the runs table is the queue.

A run moves queued → running → done | failed.  A worker claims a run with a conditional UPDATE (see
:func:`app.scoring.repository.claim_next_run`), so two workers never take the same run and never run two at
once; while it computes it refreshes the run's heartbeat; a run whose worker died (no heartbeat for
``STALE_AFTER``) is marked failed when any worker starts or polls.  Results are written in one transaction at the
end of the run, so a crash leaves the previous run's results in place.

Three ways to host it: :func:`run_once` (tests, ``distillguard detect``), :class:`Worker` as a thread embedded in
``serve`` (a startup hook), and ``distillguard worker`` (a loop of its own, e.g. in docker-compose).  The optional
scheduler queues an incremental run every ``schedule_interval_seconds`` when new events arrived, and makes it a
full run once the last full run is ``full_run_interval_seconds`` old: a full run refits the topic model on the
current window, rebuilds every feature from the database and picks up events that an incremental run's id
watermark passed over (a PostgreSQL batch that committed after a later one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.scoring import execution, memory, repository, service
from app.scoring.models import DetectionRun

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=5)
HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 2.0

Progress = Callable[[str, float], None]


def recover_stale_runs(sessions: sessionmaker[Session], *, timeout: timedelta = STALE_AFTER) -> list[str]:
    with sessions.begin() as session:
        stale = repository.fail_stale_runs(session=session, now=datetime.now(UTC), timeout=timeout)
    for run_id in stale:
        log.warning("detection run marked failed: its worker stopped", extra={"run_id": run_id})
    return stale


def claim(sessions: sessionmaker[Session]) -> str | None:
    with sessions.begin() as session:
        return repository.claim_next_run(session=session, now=datetime.now(UTC))


def run_once(
    sessions: sessionmaker[Session], settings: Settings, *, progress: Progress | None = None,
    metrics: Any = None, heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> str | None:  # fmt: skip
    """Claim and execute the oldest queued run, if any; its id (whatever its outcome) or None."""
    recover_stale_runs(sessions)
    run_id = claim(sessions)
    if run_id is None:
        return None
    if settings.detection_keep_memory:  # before this run's first thread (the heartbeat) takes an arena of its own
        memory.keep_freed_memory()
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(sessions, run_id, stop, heartbeat_seconds), name=f"heartbeat-{run_id}", daemon=True
    )
    beat.start()
    status = "failed"
    try:
        execution.execute_run(sessions=sessions, run_id=run_id, settings=settings, progress=progress)
        status = "done"
    except Exception as exc:
        log.exception("detection run failed", extra={"run_id": run_id})
        with sessions.begin() as session:
            run = repository.get_run(session=session, run_id=run_id)
            stats = dict(run.stats or {}) if run is not None else {}
            repository.finish_run(
                session=session, run_id=run_id, status="failed", now=datetime.now(UTC), stats=stats,
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )  # fmt: skip
    finally:
        stop.set()
        beat.join(timeout=5)
        if metrics is not None:
            metrics.detection_runs.labels(status).inc()
    return run_id


def _heartbeat(sessions: sessionmaker[Session], run_id: str, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            with sessions.begin() as session:
                if not repository.heartbeat(session=session, run_id=run_id, now=datetime.now(UTC)):
                    return
        except Exception:  # a missed beat is retried; the stale timeout is much longer than the period
            log.warning("heartbeat failed", extra={"run_id": run_id}, exc_info=True)


def schedule_if_due(sessions: sessionmaker[Session], *, full_every: timedelta | None = None) -> str | None:
    """Queue a run unless one is waiting or running; its id or None.

    The run is full when no full run finished within ``full_every`` (and there are events); otherwise it is
    incremental, and only queued when events arrived since the last run.
    """
    with sessions.begin() as session:
        if repository.has_unfinished_run(session=session):
            return None
        newest = repository.max_event_id(session=session)
        if newest == 0:
            return None
        if full_every is not None and _older_than(repository.last_finished_run(session=session, mode="full"),
                                                  full_every):  # fmt: skip
            return service.request_run(session=session, mode="full", requested_by="scheduler").id
        last = repository.last_finished_run(session=session)
        seen = int((last.stats or {}).get("max_event_id", 0)) if last is not None else 0
        if newest <= seen:
            return None
        return service.request_run(session=session, mode="incremental", requested_by="scheduler").id


def _older_than(run: DetectionRun | None, age: timedelta) -> bool:
    if run is None or run.finished_at is None:
        return True
    finished = run.finished_at if run.finished_at.tzinfo is not None else run.finished_at.replace(tzinfo=UTC)
    return bool(datetime.now(UTC) - finished >= age)


class Worker:
    """Polls for queued runs in a daemon thread; optionally schedules runs (incremental, and full now and then)."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, *, metrics: Any = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:  # fmt: skip
        self.sessions = sessions
        self.settings = settings
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="detection-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def loop(self) -> None:
        interval = self.settings.schedule_interval_seconds
        full = self.settings.full_run_interval_seconds
        full_every = timedelta(seconds=full) if full > 0 else None
        next_schedule = datetime.now(UTC) + timedelta(seconds=interval) if interval > 0 else None
        while not self._stop.is_set():
            try:
                if next_schedule is not None and datetime.now(UTC) >= next_schedule:
                    schedule_if_due(self.sessions, full_every=full_every)
                    next_schedule = datetime.now(UTC) + timedelta(seconds=interval)
                ran = run_once(self.sessions, self.settings, metrics=self.metrics)
            except Exception:
                log.exception("detection worker iteration failed")
                ran = None
            if ran is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()


def install(app: FastAPI) -> None:
    """Startup/shutdown hooks that run an embedded worker in ``serve`` when ``embedded_worker`` is set."""

    def start(app: FastAPI) -> None:
        settings: Settings = app.state.settings
        if not settings.embedded_worker:
            return
        worker = Worker(app.state.sessionmaker, settings, metrics=app.state.metrics)
        app.state.detection_worker = worker
        app.state.detection_wakeup = worker.wake
        worker.start()

    def stop(app: FastAPI) -> None:
        worker: Worker | None = getattr(app.state, "detection_worker", None)
        if worker is not None:
            worker.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
