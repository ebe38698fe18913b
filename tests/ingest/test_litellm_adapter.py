"""LiteLLM StandardLoggingPayload → events, through POST /v1/ingest/litellm (fixtures in LiteLLM's shape)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.ingest.adapters.litellm import litellm_event
from tests.ingest.helpers import count, ndjson, rows

ACCOUNT_FIELDS = ["end_user", "metadata.user_api_key_end_user_id", "metadata.user_api_key_user_id",
                  "metadata.user_api_key_hash"]  # fmt: skip


def payload(i: int, **overrides: Any) -> dict[str, Any]:
    """A StandardLoggingPayload as LiteLLM 1.110 logs a proxied chat completion."""
    record: dict[str, Any] = {
        "id": f"chatcmpl-{i}", "litellm_call_id": f"call-{i}", "trace_id": f"trace-{i}", "session_id": "",
        "call_type": "acompletion", "cache_hit": None, "stream": None, "status": "success",
        "custom_llm_provider": "openai", "startTime": 1767225600.25 + i, "endTime": 1767225601.5 + i,
        "completionStartTime": 1767225601.5 + i, "response_time": 1.25, "model": "gpt-4o-mini",
        "metadata": {
            "user_api_key_hash": hashlib.sha256(b"sk-team-key").hexdigest(), "user_api_key_alias": "team-a",
            "user_api_key_team_id": "team-a", "user_api_key_org_id": "org-1", "user_api_key_user_id": "user-7",
            "user_api_key_end_user_id": f"customer-{i % 2}", "user_api_key_request_route": "/chat/completions",
            "requester_ip_address": "203.0.113.10", "user_agent": "OpenAI/Python 1.54.0",
            "requester_custom_headers": {"x-trace": "1"},
        },
        "response_cost": 1.35e-05, "total_tokens": 30, "prompt_tokens": 10, "completion_tokens": 20,
        "request_tags": [], "end_user": f"customer-{i % 2}", "api_base": "https://api.openai.com",
        "model_group": "gpt-4o-mini", "model_id": "deploy-1", "requester_ip_address": "203.0.113.10",
        "user_agent": "OpenAI/Python 1.54.0",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"hello number {i}"}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "hi"}}]},
        "model_parameters": {"user": f"customer-{i % 2}", "max_tokens": 256, "temperature": 0.2, "stream": False},
        "hidden_params": {"api_base": "https://api.openai.com"},
        "model_map_information": {"model_map_key": "gpt-4o-mini", "model_map_value": {"k": "v" * 8000}},
        "error_str": None,
        "error_information": {"error_code": "", "error_class": "", "llm_provider": "", "traceback": ""},
    }  # fmt: skip
    record.update(overrides)
    return record


@pytest.fixture
def post(client: TestClient, auth_headers: Callable[[str], dict[str, str]]) -> Callable[..., Any]:
    headers = {**auth_headers("ingest"), "Content-Type": "application/json"}  # LiteLLM's header for both formats
    return lambda body: client.post("/v1/ingest/litellm", content=body, headers=headers)


def test_json_array_and_ndjson_records_map_to_events(post: Callable[..., Any], db_session: Session) -> None:
    assert post(orjson.dumps([payload(0), payload(1)])).json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert post(ndjson([payload(2), payload(1)])).json()["accepted"] == 1  # call-1 again: a duplicate
    stored = rows(db_session, "SELECT request_id, account_id, ts, ip, user_agent, model, endpoint, prompt_text, "
                              "system_text, status, latency_ms, max_tokens, temperature, org_id, api_key_id, "
                              "prompt_tokens FROM events ORDER BY request_id")  # fmt: skip
    assert [r[0] for r in stored] == ["call-0", "call-1", "call-2"]
    first = stored[0]
    assert first[1:5] == ("customer-0", 1767225600.25, "203.0.113.10", "OpenAI/Python 1.54.0")
    assert first[5:10] == ("gpt-4o-mini", "/chat/completions", "hello number 0", "be brief", 200)
    assert first[10] == pytest.approx(1250.0) and first[11:14] == (256, 0.2, "org-1")
    assert first[14] == hashlib.sha256(b"sk-team-key").hexdigest() and first[15] == 10


def test_account_identity_follows_the_configured_order() -> None:
    metadata = payload(0)["metadata"]
    no_end_user = payload(0, end_user="", metadata={**metadata, "user_api_key_end_user_id": None})
    event, _ = litellm_event(no_end_user, account_fields=ACCOUNT_FIELDS)
    assert event is not None and event["account_id"] == "user-7"
    raw_key = {**metadata, "user_api_key_end_user_id": None, "user_api_key_user_id": None,
               "user_api_key_hash": "plain-proxy-token-0123456789"}  # fmt: skip
    event, _ = litellm_event(payload(0, end_user=None, metadata=raw_key), account_fields=ACCOUNT_FIELDS)
    assert event is not None
    assert event["account_id"] == hashlib.sha256(b"plain-proxy-token-0123456789").hexdigest()  # never the raw key
    assert event["api_key_id"] == event["account_id"]
    event, _ = litellm_event(no_end_user, account_fields=["model_parameters.user"])
    assert event is not None and event["account_id"] == "customer-0"


def test_records_without_identity_or_call_id_are_rejected_others_kept(
    post: Callable[..., Any], db_session: Session
) -> None:
    anonymous = payload(1, end_user=None, metadata={})
    no_id = payload(2, litellm_call_id=None, id=None)
    result = post(orjson.dumps([payload(0), anonymous, no_id, 42])).json()
    assert result["accepted"] == 1
    assert [(r["index"], r["errors"][0]["field"]) for r in result["rejected"]] == [
        (1, "end_user"), (2, "litellm_call_id"), (3, ""),
    ]  # fmt: skip
    assert count(db_session) == 1


def test_failures_keep_their_status_and_bad_gateway_values_never_cost_the_record(
    post: Callable[..., Any], db_session: Session
) -> None:
    failed = payload(0, status="failure", error_str="RateLimitError",
                     error_information={"error_code": "429", "error_class": "RateLimitError"},
                     requester_ip_address="unknown", user_agent=None, messages="complete this sentence")  # fmt: skip
    failed["metadata"]["requester_ip_address"] = None
    assert post(orjson.dumps([failed])).json()["accepted"] == 1
    (status, ip, prompt_text), = rows(db_session, "SELECT status, ip, prompt_text FROM events")  # fmt: skip
    assert (status, ip, prompt_text) == (429, None, "complete this sentence")


def test_keys_pasted_into_prompts_are_scrubbed(post: Callable[..., Any], db_session: Session) -> None:
    leaked = payload(0, messages=[{"role": "user", "content": "call it with sk-live0123456789abcdefXYZ please"}])
    assert post(orjson.dumps([leaked])).json()["accepted"] == 1
    (prompt_text,), = rows(db_session, "SELECT prompt_text FROM events")  # fmt: skip
    assert prompt_text == "call it with [REDACTED] please"
