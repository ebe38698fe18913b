"""``distillguard detect``, ``distillguard worker`` and ``distillguard models …``."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.config import Settings, get_settings
from app.db import make_engine, session_factory
from app.errors import AppError
from app.scoring import repository, service, training, worker

models_cli = typer.Typer(no_args_is_help=True, help="Scoring models: list, train from verdicts, promote.")


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def detect(
    mode: Annotated[str, typer.Option(help="incremental (new events only) or full (recompute everything)")] = (
        "incremental"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the run's stats as JSON")] = False,
) -> None:
    """Run one detection now, in this process, with a progress display."""
    if mode not in ("incremental", "full"):
        raise typer.BadParameter("mode must be incremental or full")
    settings = get_settings()
    with _sessions() as sessions:
        _detect(sessions, settings, mode, as_json)


def _detect(sessions: sessionmaker[Session], settings: Settings, mode: str, as_json: bool) -> None:
    with sessions.begin() as session:
        run_id = service.request_run(session=session, mode=mode, requested_by="cli").id
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description:<20}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:  # fmt: skip
        task = bar.add_task("waiting", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        while True:
            ran = worker.run_once(sessions, settings, progress=progress)
            with sessions() as session:
                run = repository.get_run(session=session, run_id=run_id)
            if run is None or run.status in ("done", "failed"):
                break
            if ran is None:  # another worker holds a run: wait for it
                threading.Event().wait(worker.POLL_SECONDS)
    assert run is not None
    out = service.run_out(run)
    if as_json:
        typer.echo(json.dumps(out.model_dump(mode="json"), indent=2))
    else:
        stats: dict[str, Any] = out.stats
        console.print(
            f"run {out.id}: [bold]{out.status}[/bold] ({stats.get('mode', mode)}) — "
            f"{stats.get('accounts_scored', 0)} accounts scored, {stats.get('accounts_flagged', 0)} flagged, "
            f"{stats.get('clusters', 0)} clusters ({stats.get('clusters_flagged', 0)} flagged), "
            f"{stats.get('seconds', {}).get('total', '?')} s"
        )
        if out.error:
            console.print(f"[red]{out.error}[/red]")
    if out.status != "done":
        raise typer.Exit(1)


def worker_command(
    once: Annotated[bool, typer.Option(help="execute at most one queued run, then exit")] = False,
) -> None:
    """Execute queued detection runs (and scheduled ones, if DISTILLGUARD_SCHEDULE_INTERVAL_SECONDS > 0)."""
    settings = get_settings()
    with _sessions() as sessions:
        if once:
            ran = worker.run_once(sessions, settings)
            typer.echo(f"executed {ran}" if ran else "no queued run")
            return
        loop = worker.Worker(sessions, settings)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        typer.echo("detection worker started", err=True)
        loop.start()
        stop.wait()
        loop.stop()


@models_cli.command("list")
def models_list() -> None:
    with _sessions() as sessions, sessions() as session:
        for model in training.list_models(session=session):
            metrics = model.metrics or {}
            ap = (metrics.get("candidate") or {}).get("average_precision")
            shown = f"AP {ap:.3f}" if isinstance(ap, float) else ""
            typer.echo(f"{model.version}\t{model.kind}\t{model.status}\t{model.n_labels} labels\t{shown}")


@models_cli.command("train")
def models_train(min_labels: Annotated[int | None, typer.Option(help="minimum labelled accounts")] = None) -> None:
    """Train a candidate from analysts' verdicts; it runs in shadow mode until promoted."""
    settings = get_settings()
    try:
        with _sessions() as sessions, sessions.begin() as session:
            model = training.train_candidate(session=session, settings=settings, actor="cli", min_labels=min_labels)
            out = {"version": model.version, "status": model.status, "metrics": model.metrics}
    except AppError as exc:
        typer.echo(f"{exc.message}: {json.dumps(exc.detail)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(out, indent=2))


@models_cli.command("promote")
def models_promote(version: str) -> None:
    """Make VERSION the live scoring model (the next detection run uses it)."""
    try:
        with _sessions() as sessions, sessions.begin() as session:
            model = training.promote(session=session, version=version, actor="cli")
            typer.echo(f"{model.version} is now active")
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None


def register(cli: typer.Typer) -> None:
    cli.command("detect")(detect)
    cli.command("worker")(worker_command)
    cli.add_typer(models_cli, name="models")
