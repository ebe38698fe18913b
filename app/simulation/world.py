"""The simulated world: accounts, and the one place a request becomes a canonical event.

Personas and campaigns decide *when* and *what* an account asks; :meth:`World.emit` fills in
everything a gateway would log about it (tokens, latency, status, model, keys) the same way
for everyone, so no field is a tell by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.simulation.clock import DAY, Window, rfc3339
from app.simulation.draw import hex_id, pick, random_words, uuid4
from app.simulation.network import Client, IpSpace
from app.simulation.prompts import PromptFactory

MODEL_CURRENT, MODEL_MINI, MODEL_NEW = "frontier-1", "frontier-1-mini", "frontier-2"
ENDPOINTS = ("/v1/chat/completions", "/v1/responses")
MAX_TOKEN_CHOICES = (None, None, 512, 1024, 2048, 4096, 8192)

# completion length (median tokens, log-sd) by what the request asks for
COMPLETION_SHAPES: dict[str, tuple[float, float]] = {
    "chat": (220.0, 0.8), "cot": (650.0, 0.55), "code": (450.0, 0.7), "short": (35.0, 0.6),
    "rubric": (60.0, 0.9), "agent": (160.0, 0.9), "batch": (60.0, 0.5),
}  # fmt: skip
SECONDS_PER_TOKEN = {MODEL_CURRENT: 0.022, MODEL_MINI: 0.009, MODEL_NEW: 0.027}
_UNSET: Any = object()


@dataclass
class Account:
    account_id: str
    persona: str
    record: dict[str, Any]
    offset: float  # hours east of UTC: local rhythm
    client: Client
    keys: list[str]
    campaign: str | None = None
    group: str | None = None
    model: str = MODEL_CURRENT
    adopt_at: float = math.inf  # when the account starts using the new model
    adopt_share: float = 0.0  # its share of traffic on the new model from then on
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    endpoint: str = ENDPOINTS[0]
    sends_conversation_id: bool = False
    stream: bool = False
    error_rate: float = 0.004
    created_ts: float = 0.0
    id_words: list[int] = field(default_factory=list)  # random words for request ids
    notes: dict[str, Any] = field(default_factory=dict)


class World:
    def __init__(self, *, seed: int, window: Window, prompts: PromptFactory, ips: IpSpace) -> None:
        self.seed = seed
        self.window = window
        self.prompts = prompts
        self.ips = ips
        self.accounts: list[Account] = []
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._account_ids: set[str] = set()

    def account(
        self,
        rng: np.random.Generator,
        *,
        persona: str,
        created_ts: float,
        country: str,
        offset: float,
        client: Client,
        email_domain: str,
        payment: str | None,
        channel: str,
        tier: str,
        org_id: str | None = None,
        campaign: str | None = None,
        group: str | None = None,
        n_keys: int = 1,
    ) -> Account:
        account_id = hex_id(rng, "acct_", 8)
        if account_id in self._account_ids:
            raise RuntimeError("account id collision")
        self._account_ids.add(account_id)
        record = {
            "account_id": account_id, "created_at": rfc3339(created_ts), "email_domain": email_domain,
            "payment_fingerprint": payment, "country": country, "signup_channel": channel, "org_id": org_id,
            "tier": tier,
        }  # fmt: skip
        acct = Account(
            account_id=account_id, persona=persona, record=record, offset=offset, client=client,
            keys=[hex_id(rng, "key_", 6) for _ in range(n_keys)], campaign=campaign, group=group,
            created_ts=created_ts,
        )  # fmt: skip
        # ordinary habits: most keep the client's defaults
        acct.model = MODEL_MINI if rng.random() < 0.2 else MODEL_CURRENT
        acct.temperature = None if rng.random() < 0.55 else float(pick(rng, (0.0, 0.2, 0.5, 0.7, 0.7, 1.0)))
        acct.top_p = None if rng.random() < 0.85 else float(pick(rng, (0.9, 0.95, 1.0)))
        acct.max_tokens = pick(rng, MAX_TOKEN_CHOICES)
        acct.endpoint = ENDPOINTS[1] if rng.random() < 0.12 else ENDPOINTS[0]
        acct.stream = rng.random() < client.stream_prob
        if rng.random() < 0.5:  # gradual benign adoption of the new model
            acct.adopt_at = self.window.release + rng.exponential(2.5 * DAY)
            acct.adopt_share = 0.4 + 0.6 * rng.random()
        self.accounts.append(acct)
        return acct

    def emit(
        self,
        acct: Account,
        rng: np.random.Generator,
        ts: float,
        messages: list[dict[str, Any]],
        *,
        ip: str | None,
        kind: str = "chat",
        model: str | None = None,
        temperature: Any = _UNSET,
        n: int | None = None,
        tools: int | None = None,
        conversation_id: str | None = None,
        prompt_tokens: int | None = None,
        end_user_id: str | None = None,
        client: Client | None = None,
        stream: bool | None = None,
    ) -> bool:
        """Log one request; False (nothing logged) when it falls outside the window or account life."""
        if not self.window.start <= ts < self.window.end or ts < acct.created_ts:
            return False
        if model is None:
            model = MODEL_NEW if ts >= acct.adopt_at and rng.random() < acct.adopt_share else acct.model
        if prompt_tokens is None:
            prompt_tokens = sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages)
        median, spread = COMPLETION_SHAPES[kind]
        completion = max(1, int(median * math.exp(spread * rng.standard_normal())))
        if acct.max_tokens is not None:
            completion = min(completion, acct.max_tokens)
        completion *= n or 1
        status = 200
        if rng.random() < acct.error_rate:
            status = int(pick(rng, (429, 429, 500, 503, 400)))
        per_token = SECONDS_PER_TOKEN.get(model, 0.02) * 1000.0
        latency = 180.0 + 420.0 * rng.random() + completion * per_token * (0.8 + 0.4 * rng.random())
        if status != 200:
            completion, latency = 0, 40.0 + 200.0 * rng.random()
        client = client or acct.client
        words = acct.id_words
        if len(words) < 2:
            words.extend(random_words(rng))
        event = {
            "request_id": uuid4(words.pop(), words.pop()),
            "account_id": acct.account_id,
            "ts": None,  # filled in (RFC 3339) once all events are ordered
            "api_key_id": acct.keys[0] if len(acct.keys) == 1 else pick(rng, acct.keys),
            "org_id": acct.record["org_id"],
            "end_user_id": end_user_id,
            "ip": ip,
            "user_agent": client.user_agent,
            "tls_fingerprint": client.tls_fingerprint,
            "model": model,
            "endpoint": acct.endpoint,
            "messages": messages,
            "conversation_id": conversation_id,
            "max_tokens": acct.max_tokens,
            "n": n,
            "temperature": acct.temperature if temperature is _UNSET else temperature,
            "top_p": acct.top_p,
            "stream": acct.stream if stream is None else stream,
            "tools": tools,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "status": status,
            "latency_ms": round(latency, 1),
        }
        self.events.append((ts, event))
        return True
