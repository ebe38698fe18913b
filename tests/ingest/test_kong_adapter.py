"""Kong http-log bodies → events, through POST /v1/ingest/kong (fixtures written from Kong's documented format)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.ingest.adapters.kong import kong_event
from tests.ingest.helpers import count, rows

ACCOUNT_FIELDS = ["consumer.custom_id", "consumer.username", "consumer.id", "authenticated_entity.id"]


def http_log(i: int, **overrides: Any) -> dict[str, Any]:
    """An http-log entry of Kong 3.8+ with the AI Proxy plugin and log_payloads on."""
    body = {"model": "gpt-4o", "max_tokens": 300, "temperature": 0.1, "stream": True,
            "messages": [{"role": "user", "content": f"Explain the reasoning behind rule {i} step by step"}],
            "tools": [{"type": "function", "function": {"name": "search"}}]}  # fmt: skip
    record: dict[str, Any] = {
        "request": {
            "id": f"kong-req-{i}", "method": "POST", "uri": "/openai/v1/chat/completions?x=1",
            "url": "https://gateway.example/openai/v1/chat/completions", "size": 512,
            "querystring": {"x": "1"},
            "headers": {"user-agent": "my-app/2.0", "authorization": "REDACTED", "host": "gateway.example"},
        },
        "response": {"status": 200, "size": 900, "headers": {"content-type": "application/json"}},
        "route": {"id": "route-1", "paths": ["/openai"]}, "service": {"id": "svc-1", "name": "openai"},
        "consumer": {"id": f"c0ffee-{i % 3}", "username": f"customer-{i % 3}", "custom_id": None},
        "authenticated_entity": {"id": f"cred-{i % 3}"},
        "latencies": {"request": 815, "kong": 12, "proxy": 803},
        "client_ip": "198.51.100.23",
        "started_at": 1767225600000 + i * 1000,
        "upstream_uri": "/v1/chat/completions",
        "tries": [{"balancer_latency": 0, "port": 443, "ip": "104.18.6.192"}],
        "ai": {
            "proxy": {
                "meta": {"request_model": "gpt-4o", "response_model": "gpt-4o-2024-08-06", "provider_name": "openai",
                         "plugin_id": "p-1", "llm_latency": 790},
                "usage": {"prompt_tokens": 28, "completion_tokens": 14, "total_tokens": 42, "cost": 0.0004},
                "payload": {"request": orjson.dumps(body).decode(), "response": '{"choices": []}'},
            }
        },
    }  # fmt: skip
    record.update(overrides)
    return record


@pytest.fixture
def post(client: TestClient, auth_headers: Callable[[str], dict[str, str]]) -> Callable[..., Any]:
    headers = {**auth_headers("ingest"), "Content-Type": "application/json"}
    return lambda body: client.post("/v1/ingest/kong", content=orjson.dumps(body), headers=headers)


def test_single_object_and_batched_array_are_stored(post: Callable[..., Any], db_session: Session) -> None:
    assert post(http_log(0)).json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert post([http_log(0), http_log(1), http_log(2)]).json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    stored = rows(db_session, "SELECT request_id, account_id, ts, ip, user_agent, model, endpoint, status, "
                              "latency_ms, prompt_tokens, completion_tokens, max_tokens, stream, tools, cot_score, "
                              "api_key_id FROM events ORDER BY request_id")  # fmt: skip
    assert len(stored) == 3
    first = stored[0]
    assert first[:7] == ("kong-req-0", "customer-0", 1767225600.0, "198.51.100.23", "my-app/2.0",
                         "gpt-4o-2024-08-06", "/openai/v1/chat/completions")  # fmt: skip
    assert first[7:14] == (200, 815.0, 28, 14, 300, True, 1)
    assert first[14] > 0.5 and first[15] == "cred-0"


def test_pre_3_8_usage_fields_and_missing_payloads_are_read() -> None:
    old = http_log(0, ai={"ai-proxy": {"meta": {"request_model": "gpt-4"},
                                       "usage": {"prompt_token": 5, "completion_token": 7}}})  # fmt: skip
    event, errors = kong_event(old, account_fields=ACCOUNT_FIELDS)
    assert errors == [] and event is not None
    assert (event["prompt_tokens"], event["completion_tokens"], event["model"]) == (5, 7, "gpt-4")
    assert event["messages"] is None


def test_a_log_without_request_id_gets_a_stable_one() -> None:
    record = http_log(0)
    del record["request"]["id"]
    first, _ = kong_event(record, account_fields=ACCOUNT_FIELDS)
    again, _ = kong_event(orjson.loads(orjson.dumps(record)), account_fields=ACCOUNT_FIELDS)
    assert first is not None and again is not None
    assert first["request_id"] == again["request_id"] and first["request_id"].startswith("kong-")


def test_anonymous_or_timeless_logs_are_rejected_others_kept(post: Callable[..., Any], db_session: Session) -> None:
    anonymous = http_log(1, consumer=None, authenticated_entity=None)
    timeless = http_log(2, started_at="yesterday")
    result = post([http_log(0), anonymous, timeless]).json()
    assert result["accepted"] == 1
    assert [(r["index"], r["errors"][0]["field"]) for r in result["rejected"]] == [(1, "consumer"), (2, "started_at")]
    assert count(db_session) == 1
