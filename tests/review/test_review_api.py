"""The review workflow over HTTP: verdicts, the queue, assignment, audit entries and permissions."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.review.models import Review
from app.scoring.models import Cluster
from tests.review.seed import grow, seed_campaign, seed_population

Headers = Callable[[str], dict[str, str]]


def _queue_ids(client: TestClient, headers: dict[str, str], **params: str | float) -> list[str]:
    response = client.get("/v1/review/queue", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["cluster_id"] for item in response.json()["items"]]


def test_confirm_records_review_status_snapshot_and_audit(
    client: TestClient, auth_headers: Headers, db_session: Session
) -> None:
    seeded = seed_campaign(db_session)
    db_session.commit()
    analyst = auth_headers("analyst")

    response = client.post(f"/v1/clusters/{seeded.cluster_id}/review", headers=analyst,
                           json={"verdict": "confirmed", "note": "shared card, one template"})  # fmt: skip

    assert response.status_code == 200, response.text
    record = response.json()
    assert record["cluster_id"] == seeded.cluster_id
    assert record["verdict"] == "confirmed"
    assert record["note"] == "shared card, one template"
    assert record["reviewer"].endswith(":test-analyst")
    assert record["cluster_size"] == len(seeded.members)
    assert record["created_at"]
    db_session.expire_all()
    cluster = db_session.get(Cluster, seeded.cluster_id)
    assert cluster is not None and cluster.status == "confirmed" and cluster.size_at_decision == len(seeded.members)
    review = db_session.get(Review, record["id"])
    assert review is not None and review.members.split("\n") == sorted(seeded.members)
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "cluster.review")).all()
    assert len(entries) == 1
    assert entries[0].target_id == seeded.cluster_id and entries[0].actor == record["reviewer"]
    assert entries[0].detail["verdict"] == "confirmed" and entries[0].detail["previous_status"] == "open"
    assert entries[0].at is not None
    assert 'distillguard_review_verdicts_total{verdict="confirmed"} 1.0' in client.get("/metrics").text


def test_unknown_cluster_and_bad_verdict(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    seeded = seed_campaign(db_session)
    db_session.commit()
    analyst = auth_headers("analyst")
    assert client.post("/v1/clusters/nope/review", headers=analyst, json={"verdict": "confirmed"}).status_code == 404
    bad = client.post(f"/v1/clusters/{seeded.cluster_id}/review", headers=analyst, json={"verdict": "banned"})
    assert bad.status_code == 422
    assert bad.json()["error"]
    missing = client.post(f"/v1/clusters/{seeded.cluster_id}/review", headers=analyst, json={"note": "x"})
    assert missing.status_code == 422
    db_session.expire_all()
    assert db_session.get(Cluster, seeded.cluster_id).status == "open"  # type: ignore[union-attr]
    assert db_session.scalars(select(Review)).all() == []


def test_permissions(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    seeded = seed_campaign(db_session)
    db_session.commit()
    url = f"/v1/clusters/{seeded.cluster_id}/review"
    assert client.post(url, json={"verdict": "confirmed"}).status_code == 401
    assert client.post(url, headers=auth_headers("ingest"), json={"verdict": "confirmed"}).status_code == 403
    assert client.post(url, headers=auth_headers("admin"), json={"verdict": "dismissed"}).status_code == 200
    assert client.get("/v1/exports/confirmed", headers=auth_headers("ingest")).status_code == 403
    assert client.get("/v1/webhooks/deliveries", headers=auth_headers("analyst")).status_code == 403
    assert client.get("/v1/webhooks/deliveries", headers=auth_headers("admin")).status_code == 200


def test_status_transitions_and_the_queue(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    seeded = seed_campaign(db_session)
    other = seed_campaign(db_session, cluster_id="cl-other", prefix="other", score=0.75, seed=7)
    quiet = seed_campaign(db_session, cluster_id="cl-quiet", prefix="quiet", score=0.2, flagged=False, seed=9)
    db_session.commit()
    analyst = auth_headers("analyst")
    review_url = f"/v1/clusters/{seeded.cluster_id}/review"

    assert _queue_ids(client, analyst) == [seeded.cluster_id, other.cluster_id]  # flagged only, by score
    assert quiet.cluster_id in _queue_ids(client, analyst, status="all")

    assert client.post(review_url, headers=analyst, json={"verdict": "escalated"}).status_code == 200
    assert seeded.cluster_id in _queue_ids(client, analyst), "an escalated cluster still needs a decision"
    assert _queue_ids(client, analyst, status="escalated") == [seeded.cluster_id]

    assert client.post(review_url, headers=analyst, json={"verdict": "confirmed"}).status_code == 200
    assert _queue_ids(client, analyst) == [other.cluster_id]
    assert _queue_ids(client, analyst, status="confirmed") == [seeded.cluster_id]

    grow(db_session, seeded.cluster_id, ["late-1"])  # 6 → 7: not material
    db_session.commit()
    assert seeded.cluster_id not in _queue_ids(client, analyst)
    grow(db_session, seeded.cluster_id, ["late-2", "late-3"])  # 6 → 9: +50 %, +3 accounts
    db_session.commit()
    page = client.get("/v1/review/queue", headers=analyst).json()
    back = next(item for item in page["items"] if item["cluster_id"] == seeded.cluster_id)
    assert back["regrown"] is True and back["size_at_decision"] == 6 and back["status"] == "confirmed"

    dismissed = client.post(review_url, headers=analyst, json={"verdict": "dismissed", "note": "reseller"})
    assert dismissed.status_code == 200
    assert seeded.cluster_id not in _queue_ids(client, analyst)
    reviews = client.get(f"/v1/clusters/{seeded.cluster_id}/reviews", headers=analyst).json()["items"]
    assert [r["verdict"] for r in reviews] == ["dismissed", "confirmed", "escalated"]
    assert reviews[0]["cluster_size"] == 9
    actions = db_session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "cluster.review")).all()
    assert [(a["previous_status"], a["verdict"]) for a in actions] == [
        ("open", "escalated"), ("escalated", "confirmed"), ("confirmed", "dismissed")]  # fmt: skip


def test_assign_and_filter_by_assignee(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    seeded = seed_campaign(db_session)
    other = seed_campaign(db_session, cluster_id="cl-other", prefix="other", score=0.8, seed=7)
    db_session.commit()
    analyst = auth_headers("analyst")

    mine = client.post(f"/v1/clusters/{seeded.cluster_id}/assign", headers=analyst, json={"assignee": "me"})
    assert mine.status_code == 200 and mine.json()["assignee"] == "test-analyst"
    assert client.post(f"/v1/clusters/{other.cluster_id}/assign", headers=analyst,
                       json={"assignee": "bob"}).json()["assignee"] == "bob"  # fmt: skip
    assert _queue_ids(client, analyst, assignee="me") == [seeded.cluster_id]
    assert _queue_ids(client, analyst, assignee="bob") == [other.cluster_id]
    assert _queue_ids(client, analyst, assignee="none") == []
    cleared = client.post(f"/v1/clusters/{other.cluster_id}/assign", headers=analyst, json={"assignee": None})
    assert cleared.json()["assignee"] is None
    assert _queue_ids(client, analyst, assignee="none") == [other.cluster_id]
    assert client.post("/v1/clusters/nope/assign", headers=analyst, json={"assignee": "me"}).status_code == 404
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "cluster.assign")).all()
    assert [e.detail["assignee"] for e in entries] == ["test-analyst", "bob", None]


def test_queue_filters_and_search(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    seed_population(db_session)
    big = seed_campaign(db_session, n_accounts=8)
    small = seed_campaign(db_session, cluster_id="cl-small", prefix="small", n_accounts=3, score=0.72, seed=11)
    db_session.commit()
    analyst = auth_headers("analyst")
    assert _queue_ids(client, analyst, min_score=0.9) == [big.cluster_id]
    assert _queue_ids(client, analyst, min_size=4) == [big.cluster_id]
    assert _queue_ids(client, analyst, q=small.members[1]) == [small.cluster_id]
    assert _queue_ids(client, analyst, q=small.shared_ip) == [small.cluster_id]
    assert _queue_ids(client, analyst, q="cl-sm") == [small.cluster_id]
    assert _queue_ids(client, analyst, q="user-001") == []
    assert client.get("/v1/review/queue", params={"status": "bogus"}, headers=analyst).status_code == 422
    first = client.get("/v1/review/queue", params={"limit": 1}, headers=analyst).json()
    assert first["total"] == 2 and first["next_cursor"] == "1"
    second = client.get("/v1/review/queue", params={"limit": 1, "cursor": first["next_cursor"]}, headers=analyst)
    assert [i["cluster_id"] for i in second.json()["items"]] == [small.cluster_id]
    assert second.json()["next_cursor"] is None
