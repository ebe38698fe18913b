"""POST /v1/accounts: upsert account metadata by account_id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.ingest.helpers import make_event, rows


@pytest.fixture
def post(client: TestClient, auth_headers: Callable[[str], dict[str, str]]) -> Callable[..., Any]:
    headers = auth_headers("ingest")
    return lambda path, body: client.post(path, content=orjson.dumps(body), headers=headers)


def test_metadata_is_upserted_and_absent_fields_are_kept(post: Callable[..., Any], db_session: Session) -> None:
    post("/v1/events", [make_event(0, account_id="acct-1")])
    first = post("/v1/accounts", [
        {"account_id": "acct-1", "created_at": "2026-01-01T00:00:00Z", "email_domain": "example.com",
         "payment_fingerprint": "card-9", "country": "de", "signup_channel": "web", "tier": "free"},
        {"account_id": "acct-2", "org_id": "org-1"},
    ])  # fmt: skip
    assert first.json() == {"upserted": 2, "rejected": []}
    second = post("/v1/accounts", [{"account_id": "acct-1", "tier": "pro"}, {"account_id": "acct-1", "country": "FR"}])
    assert second.json()["upserted"] == 1
    stored = rows(db_session, "SELECT account_id, has_metadata, email_domain, payment_fingerprint, country, tier, "
                              "org_id, created_at FROM accounts ORDER BY account_id")  # fmt: skip
    assert [tuple(r[:7]) for r in stored] == [
        ("acct-1", True, "example.com", "card-9", "FR", "pro", None),
        ("acct-2", True, None, None, None, None, "org-1"),
    ]
    assert str(stored[0][7]).startswith("2026-01-01")


def test_bad_account_records_are_listed_good_ones_stored(post: Callable[..., Any], db_session: Session) -> None:
    result = post("/v1/accounts", [
        {"account_id": "ok"}, {"email_domain": "x.org"}, {"account_id": "a", "country": "Germany"},
        {"account_id": "b", "created_at": "soon"}, {"account_id": "c", "tier": 3}, [],
    ]).json()  # fmt: skip
    assert result["upserted"] == 1
    assert [(r["index"], r["errors"][0]["field"]) for r in result["rejected"]] == [
        (1, "account_id"), (2, "country"), (3, "created_at"), (4, "tier"), (5, ""),
    ]  # fmt: skip
    assert rows(db_session, "SELECT account_id FROM accounts") == [("ok",)]
