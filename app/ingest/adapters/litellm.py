"""LiteLLM ``StandardLoggingPayload`` (as its ``GenericAPILogger`` posts it) → canonical events.

Only the fields detection needs are read; everything else, including the ~8 KB
``model_map_information`` of every record, is dropped.  Identity comes from the configured
fields (``litellm_account_fields``); a raw proxy key that LiteLLM put into
``metadata.user_api_key_hash`` is replaced by its SHA-256, which is what LiteLLM itself stores.

Pointing a LiteLLM proxy at distillguard (``config.yaml``)::

    litellm_settings:
      callbacks: [distillguard]
    callback_settings:
      distillguard:
        callback_type: generic_api
        endpoint: https://distillguard.internal/v1/ingest/litellm
        headers: {Authorization: "Bearer {{environment_variables.DISTILLGUARD_INGEST_KEY}}"}
        log_format: ndjson

(from the SDK: ``litellm.callbacks = [GenericAPILogger(endpoint=..., headers=..., log_format="ndjson")]``).
LiteLLM drops a batch it failed to send, so the receiver must stay up: ingest is idempotent on
``litellm_call_id``, which makes re-sending logs from elsewhere safe.
"""

from __future__ import annotations

from typing import Any

from app.ingest.adapters import as_dict, first_text, ip_or_none, lookup, text_or_none
from app.ingest.schemas import ROLES, Errors
from app.ingest.scrub import key_identity

KEY_FIELDS = frozenset({"metadata.user_api_key_hash", "user_api_key_hash"})
_PARAMETERS = {"max_tokens": "max_tokens", "max_completion_tokens": "max_tokens", "n": "n",
               "temperature": "temperature", "top_p": "top_p", "stream": "stream"}  # fmt: skip


def _status(record: dict[str, Any]) -> int | None:
    status = record.get("status")
    if status == "success":
        return 200
    if status != "failure":
        return None
    code = lookup(record, "error_information.error_code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code if 100 <= code <= 599 else 500
    if isinstance(code, str) and code.isdigit() and 100 <= int(code) <= 599:
        return int(code)
    return 500


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _messages(value: Any) -> tuple[list[dict[str, Any]] | None, str | None]:
    """LiteLLM logs chat messages, a prompt string, or (embeddings, …) something else."""
    if isinstance(value, str):
        return None, value
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None, None
    messages = [
        {"role": m["role"], "content": m.get("content")}
        for m in value
        if isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str | list | None)
    ]
    return messages or None, None


def litellm_event(record: Any, *, account_fields: list[str]) -> tuple[dict[str, Any] | None, Errors]:
    if not isinstance(record, dict):
        return None, [("", "expected a StandardLoggingPayload object")]
    errors: Errors = []
    request_id = record.get("litellm_call_id") or record.get("id")
    if not request_id:
        errors.append(("litellm_call_id", "required (or id)"))
    account, source = first_text(record, account_fields)
    if account is None:
        errors.append(("end_user", f"no account identity in any of: {', '.join(account_fields)}"))
    elif source in KEY_FIELDS:
        account = key_identity(account)
    if errors:
        return None, errors
    metadata = as_dict(record.get("metadata"))
    parameters = as_dict(record.get("model_parameters"))
    messages, prompt = _messages(record.get("messages"))
    start, end = record.get("startTime"), record.get("endTime")
    latency = None
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        latency = round((end - start) * 1000.0, 3)
    key = metadata.get("user_api_key_hash")
    event: dict[str, Any] = {
        "request_id": str(request_id),
        "account_id": account,
        "ts": start,
        "api_key_id": key_identity(key) if isinstance(key, str) and key else None,
        "org_id": text_or_none(metadata.get("user_api_key_org_id") or metadata.get("user_api_key_team_id")),
        "end_user_id": text_or_none(
            record.get("end_user") or metadata.get("user_api_key_end_user_id") or parameters.get("user")
        ),
        "ip": ip_or_none(record.get("requester_ip_address") or metadata.get("requester_ip_address")),
        "user_agent": text_or_none(record.get("user_agent") or metadata.get("user_agent")),
        "model": text_or_none(record.get("model_group") or record.get("model")),
        "endpoint": text_or_none(metadata.get("user_api_key_request_route") or record.get("call_type")),
        "conversation_id": text_or_none(record.get("session_id")),
        "messages": messages,
        "prompt": prompt,
        "prompt_tokens": _count(record.get("prompt_tokens")),
        "completion_tokens": _count(record.get("completion_tokens")),
        "status": _status(record),
        "latency_ms": latency,
    }
    for name, target in _PARAMETERS.items():
        if parameters.get(name) is not None and event.get(target) is None:
            event[target] = parameters[name]
    if event.get("stream") is None and isinstance(record.get("stream"), bool):
        event["stream"] = record["stream"]
    tools = parameters.get("tools")
    if isinstance(tools, list):
        event["tools"] = len(tools)
    return event, []
