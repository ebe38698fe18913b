"""End to end on both databases: ingest over HTTP → POST a run → the worker executes it → read the results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.scoring import worker
from tests.scoring.conftest import events_sorted, population

Headers = Callable[[str], dict[str, str]]


def _ingest_over_http(client: TestClient, headers: dict[str, str]) -> None:
    pop = population()
    accounts = client.post("/v1/accounts", json=[dict(a) for a in pop.accounts], headers=headers)
    assert accounts.status_code == 200, accounts.text
    events = events_sorted(pop)
    for start in range(0, len(events), 2000):
        body = b"\n".join(orjson.dumps(e) for e in events[start : start + 2000])
        response = client.post("/v1/events", content=body, headers={**headers, "Content-Type": "application/x-ndjson"})
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []


def _all_pages(
    client: TestClient, headers: dict[str, str], url: str, limit: int, **filters: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": limit, **filters}
        if cursor:
            params["cursor"] = cursor
        page = client.get(url, params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


@pytest.fixture
def detected(client: TestClient, auth_headers: Headers, settings: Settings) -> dict[str, dict[str, str]]:
    headers = {"ingest": auth_headers("ingest"), "analyst": auth_headers("analyst"), "admin": auth_headers("admin")}
    _ingest_over_http(client, headers["ingest"])
    accepted = client.post("/v1/detection/runs", headers=headers["admin"])
    assert accepted.status_code == 202, accepted.text
    run = accepted.json()
    assert set(run) == {"id", "status"} and run["status"] == "queued"
    queued = client.get(f"/v1/detection/runs/{run['id']}", headers=headers["analyst"]).json()
    assert queued["status"] == "queued" and queued["started_at"] is None
    assert worker.run_once(client.app.state.sessionmaker, settings) == run["id"]  # type: ignore[attr-defined]
    done = client.get(f"/v1/detection/runs/{run['id']}", headers=headers["analyst"])
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "done", body
    assert body["started_at"] and body["finished_at"] and body["finished_at"] >= body["started_at"]
    assert body["stats"]["accounts_scored"] > 0 and body["stats"]["mode"] == "full"
    return headers


def test_every_account_seen_is_listed_by_score_then_unscored_last(client: TestClient, detected) -> None:  # type: ignore[no-untyped-def]
    items = _all_pages(client, detected["analyst"], "/v1/accounts", limit=37)
    ids = [item["account_id"] for item in items]
    assert len(ids) == len(set(ids)) == len(population().accounts)
    scored = [item for item in items if item["risk_score"] is not None]
    unscored = [item for item in items if item["risk_score"] is None]
    assert scored and unscored, "accounts with metadata but no events stay unscored"
    assert items[: len(scored)] == scored, "unscored accounts sort last"
    keys = [(-item["risk_score"], item["account_id"]) for item in scored]
    assert keys == sorted(keys)
    assert [u["account_id"] for u in unscored] == sorted(u["account_id"] for u in unscored)
    for item in unscored:
        assert item == {"account_id": item["account_id"], "risk_score": None, "flagged": False, "cluster_id": None,
                        "reasons": [], "scored_at": None, "model_version": None}  # fmt: skip
    for item in scored:
        assert 0.0 <= item["risk_score"] <= 1.0
        assert item["reasons"] and item["model_version"] and item["scored_at"]
        assert set(item["reasons"][0]) == {"feature", "value", "contribution", "text"}


def test_filters_and_limits(client: TestClient, detected) -> None:  # type: ignore[no-untyped-def]
    analyst = detected["analyst"]
    flagged = _all_pages(client, analyst, "/v1/accounts", limit=5, flagged="true")
    assert flagged and all(item["flagged"] for item in flagged)
    not_flagged = _all_pages(client, analyst, "/v1/accounts", limit=500, flagged="false")
    assert not any(item["flagged"] for item in not_flagged)
    assert len(flagged) + len(not_flagged) == len(population().accounts)
    high = client.get("/v1/accounts", params={"min_score": 0.5, "limit": 1000}, headers=analyst).json()
    assert all(item["risk_score"] >= 0.5 for item in high["items"]) and high["next_cursor"] is None
    assert client.get("/v1/accounts", params={"limit": 1001}, headers=analyst).status_code == 422
    assert client.get("/v1/accounts", params={"limit": 0}, headers=analyst).status_code == 422
    assert client.get("/v1/accounts", params={"min_score": 2}, headers=analyst).status_code == 422
    bad = client.get("/v1/accounts", params={"cursor": "not-a-cursor"}, headers=analyst)
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]
    default = client.get("/v1/accounts", headers=analyst).json()
    assert len(default["items"]) == 100 and default["next_cursor"]


def test_account_risk_and_cluster_detail(client: TestClient, detected) -> None:  # type: ignore[no-untyped-def]
    analyst = detected["analyst"]
    truth = population().truth["accounts"]
    flagged = _all_pages(client, analyst, "/v1/accounts", limit=100, flagged="true")
    assert sum(truth.get(item["account_id"]) is not None for item in flagged) >= 0.8 * len(flagged)
    in_cluster = next(item for item in flagged if item["cluster_id"])
    risk = client.get(f"/v1/accounts/{in_cluster['account_id']}/risk", headers=analyst)
    assert risk.status_code == 200 and risk.json() == in_cluster
    assert client.get("/v1/accounts/nobody/risk", headers=analyst).status_code == 404

    clusters = _all_pages(client, analyst, "/v1/clusters", limit=3)
    assert clusters and [c["score"] for c in clusters] == sorted((c["score"] for c in clusters), reverse=True)
    summary_keys = {"cluster_id", "score", "flagged", "size", "status", "first_seen", "last_seen", "top_reasons"}
    assert all(summary_keys <= set(c) for c in clusters)
    detail = client.get(f"/v1/clusters/{in_cluster['cluster_id']}", headers=analyst).json()
    assert in_cluster["account_id"] in detail["members"] and len(detail["members"]) == detail["size"] >= 2
    assert detail["evidence"] and all({"kind", "text"} <= set(e) for e in detail["evidence"])
    assert detail["status"] == "open" and detail["top_reasons"]
    assert detail["first_seen"] <= detail["last_seen"]
    flagged_clusters = client.get("/v1/clusters", params={"flagged": "true"}, headers=analyst).json()["items"]
    assert flagged_clusters and all(c["flagged"] for c in flagged_clusters)
    assert client.get("/v1/clusters", params={"status": "dismissed"}, headers=analyst).json()["items"] == []
    assert client.get("/v1/clusters", params={"status": "bogus"}, headers=analyst).status_code == 422
    assert client.get("/v1/clusters/c_nope", headers=analyst).status_code == 404


def test_run_requests(client: TestClient, auth_headers: Headers) -> None:
    admin, analyst = auth_headers("admin"), auth_headers("analyst")
    first = client.post("/v1/detection/runs", json={"mode": "incremental"}, headers=admin).json()
    again = client.post("/v1/detection/runs", json={"mode": "full"}, headers=admin).json()
    assert again["id"] == first["id"], "a request while one is queued joins it"
    assert client.get(f"/v1/detection/runs/{first['id']}", headers=analyst).json()["mode"] == "full"
    assert client.post("/v1/detection/runs", json={"mode": "sometimes"}, headers=admin).status_code == 422
    assert client.post("/v1/detection/runs", headers=analyst).status_code == 403
    assert client.get("/v1/detection/runs/run_nope", headers=analyst).status_code == 404
    listed = client.get("/v1/detection/runs", headers=analyst).json()["items"]
    assert [r["id"] for r in listed] == [first["id"]]
