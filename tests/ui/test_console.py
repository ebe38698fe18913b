"""The console over plain HTTP: login rules, CSRF, sessions, pages, and decisions recorded like the API's."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.auth import service as keys_service
from app.config import Settings
from app.ingest.models import Account
from app.main import create_app
from app.scoring.models import Cluster
from app.ui.session import COOKIE, ConsoleSession, SessionCodec
from tests.review.seed import seed_campaign, seed_population
from tests.ui.helpers import csrf_of, login

MakeKey = Callable[[str], str]


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/console", "/console/clusters/x", "/console/accounts/x", "/console/exports/confirmed.csv"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"


def test_login_rules(client: TestClient, make_key: MakeKey) -> None:
    token = csrf_of(client.get("/console/login").text)
    assert "HttpOnly" in client.get("/console/login").headers.get("set-cookie", "HttpOnly")
    ingest = client.post("/console/login", data={"api_key": make_key("ingest"), "csrf_token": token})
    assert ingest.status_code == 403 and "cannot open the console" in ingest.text
    wrong = client.post("/console/login", data={"api_key": "dg_wrong", "csrf_token": token})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    forged = client.post("/console/login", data={"api_key": make_key("analyst"), "csrf_token": "forged"})
    assert forged.status_code == 403
    assert client.get("/console", follow_redirects=False).status_code == 303
    ok = client.post("/console/login", data={"api_key": make_key("analyst"), "csrf_token": token,
                                             "next": "https://evil.test/"}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"] == "/console", "no open redirect"
    cookie = ok.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert client.get("/console").status_code == 200


def test_logout_and_revocation_end_the_session(client: TestClient, make_key: MakeKey, db_session: Session) -> None:
    key = make_key("analyst")
    token = login(client, key)
    assert client.post("/console/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303

    login(client, key)
    key_id = db_session.scalar(select(AuditEntry.target_id).where(AuditEntry.action == "console.login"))
    keys_service.revoke_key(session=db_session, key_id=int(key_id or 0))
    db_session.commit()
    assert client.get("/console", follow_redirects=False).status_code == 303
    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("console.%"))).all()
    assert actions == ["console.login", "console.logout", "console.login"]


def test_forged_or_foreign_cookies_are_ignored(settings: Settings, make_key: MakeKey) -> None:
    make_key("admin")  # key id 1 exists
    foreign = SessionCodec(b"some other secret").dumps(ConsoleSession.anonymous().logged_in(1))
    with TestClient(create_app(settings)) as client:
        client.cookies.set(COOKIE, foreign)
        assert client.get("/console", follow_redirects=False).status_code == 303
        client.cookies.set(COOKIE, "garbage.value")
        assert client.get("/console", follow_redirects=False).status_code == 303
        login(client, make_key("analyst"))  # the login page replaces the bad cookie, so its form works


def test_session_secret_keeps_sessions_across_processes(settings: Settings, make_key: MakeKey) -> None:
    stable = settings.model_copy(update={"session_secret": "a-long-enough-console-secret"})
    key = make_key("analyst")
    with TestClient(create_app(stable)) as first:
        login(first, key)
        cookie = first.cookies[COOKIE]
    with TestClient(create_app(stable)) as second:
        second.cookies.set(COOKIE, cookie)
        assert second.get("/console", follow_redirects=False).status_code == 200


def test_review_through_the_console(client: TestClient, make_key: MakeKey, db_session: Session) -> None:
    seed_population(db_session)
    seeded = seed_campaign(db_session)
    db_session.commit()
    token = login(client, make_key("analyst"))
    queue = client.get("/console")
    assert seeded.cluster_id in queue.text and "share one payment fingerprint" in queue.text

    page = client.get(f"/console/clusters/{seeded.cluster_id}")
    assert page.status_code == 200
    for chart in ("heatmap-cluster", "heatmap-population", "timeline", "bars-capabilities", "bars-topics", "graph"):
        assert f'data-chart="{chart}"' in page.text, chart
    assert seeded.shared_ip in page.text, "the shared IP is a node of the infrastructure graph"
    assert "Articulate the reasoning behind" in page.text, "sample prompts are shown in full retention mode"

    account = client.get(f"/console/accounts/{seeded.members[0]}")
    assert account.status_code == 200 and "cot_share" in account.text and seeded.cluster_id in account.text
    assert "[email]" in account.text and "[api key]" in account.text
    assert "ops@harvest.test" not in account.text and "sk-abcdef1234567890abcd" not in account.text
    assert client.get("/console/accounts/nobody").status_code == 404

    refused = client.post(f"/console/clusters/{seeded.cluster_id}/review", data={"verdict": "confirmed"})
    assert refused.status_code == 403, "a form without the CSRF token is refused"
    assert client.post(f"/console/clusters/{seeded.cluster_id}/assign",
                       data={"assignee": "me", "csrf_token": token}).status_code == 200  # fmt: skip
    done = client.post(f"/console/clusters/{seeded.cluster_id}/review",
                       data={"verdict": "confirmed", "note": "obvious", "csrf_token": token})  # fmt: skip
    assert done.status_code == 200 and f"Cluster {seeded.cluster_id} confirmed." in done.text
    assert 'data-testid="queue-empty"' in done.text
    db_session.expire_all()
    cluster = db_session.get(Cluster, seeded.cluster_id)
    assert cluster is not None and cluster.status == "confirmed" and cluster.assignee == "test-analyst"
    review = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "cluster.review"))
    assert review is not None and review.actor.endswith(":test-analyst") and review.detail["note"] == "obvious"
    export = client.get("/console/exports/confirmed.csv")
    assert export.status_code == 200 and all(member in export.text for member in seeded.members)
    history = client.get(f"/console/clusters/{seeded.cluster_id}").text
    assert "verdict confirmed: obvious" in history and "assigned to test-analyst" in history


def test_hashed_retention_shows_no_text(settings: Settings, make_key: MakeKey, db_session: Session) -> None:
    seeded = seed_campaign(db_session, retention="hashed")
    db_session.commit()
    hashed = settings.model_copy(update={"prompt_retention": "hashed"})
    with TestClient(create_app(hashed)) as client:
        login(client, make_key("analyst"))
        page = client.get(f"/console/clusters/{seeded.cluster_id}").text
    assert "(text not retained: hashed mode)" in page
    assert "Articulate the reasoning" not in page
    assert 'data-chart="bars-capabilities"' in page, "capabilities come from hashed tokens"


def test_webhook_log_is_for_admins(client: TestClient, make_key: MakeKey) -> None:
    login(client, make_key("analyst"))
    assert client.get("/console/webhooks").status_code == 403
    with TestClient(client.app) as admin:
        login(admin, make_key("admin"))
        assert admin.get("/console/webhooks").status_code == 200


def test_account_ids_with_slashes_and_spaces_open(client: TestClient, make_key: MakeKey, db_session: Session) -> None:
    db_session.add(Account(account_id="team/alice b?", has_metadata=True, country="NL"))
    db_session.commit()
    login(client, make_key("analyst"))
    queue = client.get("/console", params={"q": "team/alice b?"})
    assert "/console/accounts/team/alice%20b%3F" in queue.text
    page = client.get("/console/accounts/team/alice%20b%3F")
    assert page.status_code == 200 and "team/alice b?" in page.text and "Not scored yet." in page.text
