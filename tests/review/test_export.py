"""The enforcement export: the accounts of confirmed clusters, as they were when the analyst confirmed them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.review.export import to_csv
from app.review.schemas import ConfirmedAccount
from tests.review.seed import grow, seed_campaign

Headers = Callable[[str], dict[str, str]]


def test_export_lists_confirmed_accounts_only(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    confirmed = seed_campaign(db_session)
    dismissed = seed_campaign(db_session, cluster_id="cl-other", prefix="other", seed=7)
    seed_campaign(db_session, cluster_id="cl-open", prefix="open", seed=8)
    db_session.commit()
    analyst = auth_headers("analyst")
    client.post(f"/v1/clusters/{confirmed.cluster_id}/review", headers=analyst,
                json={"verdict": "confirmed", "note": "=HYPERLINK(\"x\")"})  # fmt: skip
    client.post(f"/v1/clusters/{dismissed.cluster_id}/review", headers=analyst, json={"verdict": "dismissed"})
    grow(db_session, confirmed.cluster_id, ["joined-after-verdict"])
    db_session.commit()

    body = client.get("/v1/exports/confirmed", headers=analyst)
    assert body.status_code == 200 and body.headers["content-type"].startswith("application/json")
    exported = body.json()
    assert exported["count"] == len(confirmed.members)
    assert sorted(i["account_id"] for i in exported["items"]) == sorted(confirmed.members)
    assert {i["cluster_id"] for i in exported["items"]} == {confirmed.cluster_id}
    assert all(i["risk_score"] is not None and i["reviewer"].endswith("test-analyst") for i in exported["items"])

    text = client.get("/v1/exports/confirmed", params={"format": "csv"}, headers=analyst)
    assert text.headers["content-type"].startswith("text/csv")
    assert "attachment" in text.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert sorted(r["account_id"] for r in rows) == sorted(confirmed.members)
    assert all(r["note"].startswith("'=") for r in rows), "a formula in a note must not run in a spreadsheet"

    client.post(f"/v1/clusters/{confirmed.cluster_id}/review", headers=analyst, json={"verdict": "dismissed"})
    assert client.get("/v1/exports/confirmed", headers=analyst).json()["count"] == 0
    exports = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "export.confirmed")).all()
    assert [(e.target_id, e.detail["accounts"]) for e in exports] == [
        ("json", len(confirmed.members)), ("csv", len(confirmed.members)), ("json", 0)]  # fmt: skip
    assert all(e.actor.endswith("test-analyst") for e in exports), "who handed accounts to enforcement is on record"


def test_csv_cells_are_spreadsheet_safe() -> None:
    row = ConfirmedAccount(account_id="+cmd|' /C calc'!A0", cluster_id="c", review_id=1,
                           confirmed_at=datetime(2026, 3, 2, tzinfo=UTC), reviewer="r", cluster_score=0.9,
                           risk_score=None, note=None)  # fmt: skip
    parsed = list(csv.reader(io.StringIO(to_csv([row]))))
    assert parsed[0][0] == "account_id"
    assert parsed[1][0] == "'+cmd|' /C calc'!A0"
    assert parsed[1][6] == ""
