"""``distillguard demo``: simulate a population, ingest it, run detection and serve the review console.

The fastest way to see the service work: one command leaves flagged clusters waiting in the console,
and prints the URL and a fresh admin key (the last line of its output) to log in with.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.auth import service as keys_service
from app.config import Settings, get_settings
from app.db import make_engine, session_factory
from app.ingest import service as ingest
from app.ingest.models import Event
from app.scoring import repository as scoring_repository
from app.scoring import service as scoring
from app.scoring import worker
from app.scoring.models import Cluster

SLICE = 20_000  # events per ingest transaction


def _slices(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stored_events(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def populate(sessions: sessionmaker[Session], settings: Settings, *, seed: int, scale: float, days: float) -> str:
    """Simulate and ingest through the same service code as POST /v1/accounts and /v1/events."""
    from app.simulation import SimulationConfig, simulate

    started = time.perf_counter()
    population = simulate(SimulationConfig(seed=seed, scale=scale, days=days))
    simulated = time.perf_counter() - started
    with sessions.begin() as session:
        ingest.upsert_accounts(session=session, records=population.accounts)
    accepted = 0
    for chunk in _slices(population.events, SLICE):
        with sessions.begin() as session:
            accepted += ingest.ingest_records(session=session, records=chunk,
                                              retention=settings.prompt_retention).accepted  # fmt: skip
    campaigns = len(population.truth.get("campaigns", {}))
    return (f"simulated {len(population.accounts):,} accounts and {len(population.events):,} requests "
            f"({campaigns} hidden campaigns) in {simulated:.1f}s; stored {accepted:,} "
            f"in {time.perf_counter() - started - simulated:.1f}s")  # fmt: skip


def detect(sessions: sessionmaker[Session], settings: Settings) -> str:
    """One full detection run, executed here and now."""
    started = time.perf_counter()
    with sessions.begin() as session:
        run_id = scoring.request_run(session=session, mode="full", requested_by="demo").id
    while True:
        ran = worker.run_once(sessions, settings)
        with sessions() as session:
            run = scoring_repository.get_run(session=session, run_id=run_id)
            if run is None or run.status in ("done", "failed"):
                break
        if ran is None:
            time.sleep(worker.POLL_SECONDS)
    if run is None or run.status != "done":
        raise typer.Exit(f"detection run {run_id} failed: {run.error if run else 'missing'}")  # type: ignore[arg-type]
    return f"detection run {run_id} finished in {time.perf_counter() - started:.1f}s"


def _detected_everything(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        last = scoring_repository.last_finished_run(session=session)
        newest = scoring_repository.max_event_id(session=session)
    return last is not None and int((last.stats or {}).get("max_event_id", -1)) >= newest


def queue_summary(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        clusters = list(session.scalars(
            select(Cluster).where(Cluster.flagged.is_(True), Cluster.active.is_(True)).order_by(Cluster.score.desc())
        ))  # fmt: skip
    lines = [f"{len(clusters)} flagged clusters ready to review"]
    for cluster in clusters[:5]:
        reason = (cluster.top_reasons or [{}])[0].get("text", "")
        lines.append(f"  {cluster.cluster_id}  score {cluster.score:.2f}  {cluster.size:>4} accounts  {reason}")
    return lines


def demo(
    scale: Annotated[float, typer.Option(help="population size (1.0 ≈ 3,000 accounts)")] = 0.3,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    days: Annotated[float, typer.Option(help="simulated days of traffic")] = 7.0,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the console afterwards")] = True,
) -> None:
    """Simulate, ingest, detect, then serve the console with flagged clusters to review."""
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        existing = _stored_events(sessions)
        if existing:
            typer.echo(f"the database already holds {existing:,} requests: reusing them "
                       f"(point DISTILLGUARD_DATABASE_URL at a new database for a fresh simulation)")  # fmt: skip
        else:
            typer.echo(populate(sessions, settings, seed=seed, scale=scale, days=days))
        if _detected_everything(sessions):
            typer.echo("a finished detection run already covers every stored request: reusing its results")
        else:
            typer.echo(detect(sessions, settings))
        for line in queue_summary(sessions):
            typer.echo(line)
        with sessions.begin() as session:
            _, raw_key = keys_service.create_key(session=session, role="admin", name="demo")
    finally:
        engine.dispose()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"review console: http://{shown_host}:{port}/console  (log in with this admin key):")
    typer.echo(raw_key)
    if serve:
        import uvicorn

        from app.main import create_app

        if "DISTILLGUARD_LOG_JSON" not in os.environ:  # a person is watching this terminal, not a log shipper
            settings = settings.model_copy(update={"log_json": False})
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


def register(cli: typer.Typer) -> None:
    cli.command("demo")(demo)
