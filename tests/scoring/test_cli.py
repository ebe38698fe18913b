"""`distillguard detect` runs one detection in-process; `worker --once` executes a queued run; `models list`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.scoring import service
from tests.scoring.conftest import events_sorted, ingest, population


@pytest.fixture
def configured(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("DISTILLGUARD_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_detect_worker_and_models_commands(configured: Settings, sessions: sessionmaker[Session]) -> None:
    pop = population()
    ingest(sessions, events_sorted(pop)[:2000], pop.accounts)
    runner = CliRunner()
    result = runner.invoke(cli, ["detect", "--mode", "full", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout[result.stdout.index("{"):])
    assert run["status"] == "done" and run["stats"]["mode"] == "full" and run["stats"]["accounts_scored"] > 0

    summary = runner.invoke(cli, ["detect"])
    assert summary.exit_code == 0, summary.output
    assert "done (incremental)" in summary.output and "accounts scored" in summary.output

    assert "no queued run" in runner.invoke(cli, ["worker", "--once"]).output
    with sessions.begin() as session:
        queued = service.request_run(session=session, mode="incremental", requested_by="test").id
    assert f"executed {queued}" in runner.invoke(cli, ["worker", "--once"]).output

    listed = runner.invoke(cli, ["models", "list"])
    assert listed.exit_code == 0 and "prior\tactive" in listed.output
    refused = runner.invoke(cli, ["models", "train", "--min-labels", "5"])
    assert refused.exit_code == 1 and "not enough labels" in refused.output
    assert runner.invoke(cli, ["detect", "--mode", "sometimes"]).exit_code != 0
