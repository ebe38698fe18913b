"""Playwright driving Debian's Chromium against a real server: log in, review a cluster, find it exported.

The cluster page screenshot is saved to ``artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from tests.review.seed import seed_campaign, seed_population

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: bash scripts/browser.sh installs it"),
]


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, log_level="warning",
                            ws="none", lifespan="on", access_log=False)  # fmt: skip
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_analyst_confirms_a_cluster_in_the_browser(
    server: str, page: Page, make_key: Callable[[str], str], db_session: Session
) -> None:
    seed_population(db_session, n_accounts=30)
    campaign = seed_campaign(db_session, n_accounts=12, events_each=24)
    other = seed_campaign(db_session, cluster_id="cl-other", prefix="other", n_accounts=4, score=0.74, seed=5)
    db_session.commit()
    foreign, errors = [], []
    page.on("request", lambda r: foreign.append(r.url) if urlparse(r.url).hostname != "127.0.0.1" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{server}/console")
    assert "/console/login" in page.url
    page.fill("#api_key", make_key("analyst"))
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=queue-table]")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-cluster") == campaign.cluster_id, "sorted by score"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "queue-page.png"), full_page=True)

    page.click(f"a.cluster-link:has-text('{campaign.cluster_id}')")
    page.wait_for_selector("[data-testid=cluster-id]")
    assert page.inner_text("[data-testid=cluster-status]").lower() == "open"
    for chart, mark, least in (("heatmap-cluster", "rect", 24), ("heatmap-population", "rect", 24),
                               ("timeline", "polyline", 2), ("bars-capabilities", "rect", 2),
                               ("bars-topics", "rect", 2), ("graph", "g.node", len(campaign.members) + 2)):  # fmt: skip
        svg = page.locator(f"svg[data-chart={chart}]")
        box = svg.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 40, f"{chart} is not drawn"
        assert svg.locator(mark).count() >= least, chart
    assert page.locator("[data-testid=members-table] tbody tr").count() == len(campaign.members)
    shot = ARTIFACTS / "cluster-page.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"cluster page screenshot: {shot}")

    page.click(f"[data-testid=members-table] a:has-text('{campaign.members[0]}')")
    page.wait_for_selector("[data-testid=recent-requests]")
    assert page.inner_text("[data-testid=account-id]") == campaign.members[0]
    page.screenshot(path=str(ARTIFACTS / "account-page.png"), full_page=True)
    page.go_back()
    page.wait_for_selector("[data-testid=decision-panel]")

    page.on("dialog", lambda dialog: dialog.accept())
    page.fill("#note", "12 accounts, one card, one chain-of-thought template")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=flash]")
    assert f"Cluster {campaign.cluster_id} confirmed." in page.inner_text("[data-testid=flash]")
    remaining = [r.get_attribute("data-cluster") for r in page.locator("table.queue tbody tr").all()]
    assert remaining == [other.cluster_id]

    exported = page.request.get(f"{server}/console/exports/confirmed.csv")
    assert exported.ok
    lines = exported.text().strip().splitlines()
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(campaign.members)
    page.goto(f"{server}/console?status=confirmed")
    assert page.locator("table.queue tbody tr").first.get_attribute("data-cluster") == campaign.cluster_id
    assert not errors, errors
    assert not foreign, f"the console fetched from outside: {foreign}"
