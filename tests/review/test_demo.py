"""`distillguard demo` end to end: simulate → ingest → detect, then the console shows real flagged clusters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import make_engine, session_factory
from app.main import create_app
from app.scoring.models import Cluster
from tests.ui.helpers import login

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_prepares_flagged_clusters_and_a_working_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "DISTILLGUARD_DATABASE_URL": url, "DISTILLGUARD_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--no-serve", "--scale", "0.08", "--days", "3", "--seed", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    key = lines[-1]
    assert re.fullmatch(r"dg_[A-Za-z0-9_-]{20,}", key), lines[-3:]
    assert "/console" in lines[-2]
    flagged = int(next(line for line in lines if "flagged clusters" in line).split()[0])
    assert flagged >= 1, "the simulated campaigns leave something to review"

    engine = make_engine(url)
    with session_factory(engine)() as session:
        top = session.scalars(
            select(Cluster).where(Cluster.flagged.is_(True), Cluster.active.is_(True)).order_by(Cluster.score.desc())
        ).first()
    engine.dispose()
    assert top is not None
    settings = Settings(database_url=url, auto_migrate=False, embedded_worker=False, log_level="WARNING")
    with TestClient(create_app(settings)) as client:
        login(client, key)
        assert top.cluster_id in client.get("/console").text
        page = client.get(f"/console/clusters/{top.cluster_id}")
    assert page.status_code == 200
    for chart in ("heatmap-cluster", "timeline", "bars-capabilities", "bars-topics", "graph"):
        assert f'data-chart="{chart}"' in page.text, chart
