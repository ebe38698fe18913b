"""Kong ``http-log`` bodies (one object, or an array when batching) → canonical events.

Identity from the configured consumer fields (``kong_account_fields``); client from
``client_ip`` and the request's ``user-agent`` header; model and tokens from the AI Gateway's
``ai.proxy`` block (``ai.<plugin>.usage.prompt_token`` before Kong 3.8); messages and sampling
parameters from ``ai.proxy.payload.request`` when ``log_payloads`` is on.  A log without
``request.id`` gets a request id derived from its content, so a re-sent log is still a duplicate.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from app.ingest.adapters import as_dict, first_text, ip_or_none, lookup, text_or_none
from app.ingest.schemas import ROLES, Errors

_PARAMETERS: dict[str, type | tuple[type, ...]] = {
    "max_tokens": int, "n": int, "temperature": (int, float), "top_p": (int, float), "stream": bool,
}  # fmt: skip


def _ai_blocks(record: dict[str, Any]) -> list[dict[str, Any]]:
    ai = record.get("ai")
    if not isinstance(ai, dict):
        return []
    blocks = [ai["proxy"]] if isinstance(ai.get("proxy"), dict) else []
    blocks += [value for key, value in ai.items() if key != "proxy" and isinstance(value, dict)]
    return blocks


def _usage(blocks: list[dict[str, Any]], *names: str) -> int | None:
    for block in blocks:
        usage = block.get("usage")
        if isinstance(usage, dict):
            for name in names:
                value = usage.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                    return int(value)
    return None


def _payload_request(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    for block in blocks:
        raw = lookup(block, "payload.request")
        if isinstance(raw, dict):
            return raw
        if isinstance(raw, str) and raw:
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # Kong truncates large payloads; the rest of the record still counts
            if isinstance(parsed, dict):
                return parsed
    return {}


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    value = headers.get(name)
    if isinstance(value, list):  # a repeated header arrives as a list
        value = value[0] if value else None
    return text_or_none(value)


def kong_event(record: Any, *, account_fields: list[str]) -> tuple[dict[str, Any] | None, Errors]:
    if not isinstance(record, dict):
        return None, [("", "expected an http-log object")]
    account, _ = first_text(record, account_fields)
    if account is None:
        return None, [("consumer", f"no account identity in any of: {', '.join(account_fields)}")]
    started = record.get("started_at")
    if not isinstance(started, int | float) or isinstance(started, bool):
        return None, [("started_at", "required: epoch milliseconds")]
    request = as_dict(record.get("request"))
    headers = request.get("headers")
    request_id = text_or_none(request.get("id")) or _header(headers, "x-kong-request-id")
    if request_id is None:
        digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        request_id = f"kong-{digest}"
    blocks = _ai_blocks(record)
    meta: dict[str, Any] = next((b["meta"] for b in blocks if isinstance(b.get("meta"), dict)), {})
    body = _payload_request(blocks)
    uri = text_or_none(request.get("uri")) or text_or_none(record.get("upstream_uri"))
    messages = body.get("messages")
    if isinstance(messages, list):
        messages = [
            {"role": m["role"], "content": m.get("content")}
            for m in messages
            if isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str | list | None)
        ] or None
    else:
        messages = None
    latency = lookup(record, "latencies.request")
    status = lookup(record, "response.status")
    consumer_id = lookup(record, "consumer.id")
    event: dict[str, Any] = {
        "request_id": request_id,
        "account_id": account,
        "ts": started / 1000.0,
        "api_key_id": text_or_none(lookup(record, "authenticated_entity.id")),
        "end_user_id": text_or_none(consumer_id) if text_or_none(consumer_id) != account else None,
        "ip": ip_or_none(record.get("client_ip")),
        "user_agent": _header(headers, "user-agent"),
        "model": text_or_none(meta.get("response_model"))
        or text_or_none(meta.get("request_model"))
        or text_or_none(body.get("model")),
        "endpoint": uri.split("?", 1)[0][:200] if uri else None,
        "messages": messages,
        "prompt": body.get("prompt") if isinstance(body.get("prompt"), str) else None,
        "prompt_tokens": _usage(blocks, "prompt_tokens", "prompt_token"),
        "completion_tokens": _usage(blocks, "completion_tokens", "completion_token"),
        "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
        "latency_ms": float(latency) if isinstance(latency, int | float) and not isinstance(latency, bool) else None,
    }
    for name, kinds in _PARAMETERS.items():
        value = body.get(name)
        if isinstance(value, kinds) and not (isinstance(value, bool) and kinds is not bool):
            event[name] = value  # a client's odd parameter types never cost the record
    tools = body.get("tools")
    if isinstance(tools, list):
        event["tools"] = len(tools)
    return event, []
