"""Small procedural populations for linking tests: one campaign and the hard negatives that share its traits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.events import account_frame, to_event_frame

BASE_TS = 1_790_000_000.0
WORDS = ("cat", "dog", "why", "how", "sky", "blue", "code", "rust", "poem", "love", "war", "tax", "tree", "milk",
         "sun", "moon", "car", "bus", "rain", "song", "bread", "city", "lake", "road", "wine", "gold")  # fmt: skip
TOPICS = ("quantum chemistry", "plate tectonics", "graph theory", "tax law", "protein folding", "compilers",
          "game theory", "thermodynamics", "number theory", "microeconomics", "optics", "ecology")  # fmt: skip


def _chat(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(6, 14))))


def population(seed: int = 0, *, campaign_size: int = 8, cgnat_users: int = 40, corp_size: int = 10,
               benign: int = 40) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:  # fmt: skip
    """(events, account records, truth: account → 'campaign' | 'cgnat' | 'corp' | 'benign')."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    truth: dict[str, str] = {}

    def emit(aid: str, ts: float, ip: str, ua: str, tls: str, text: str) -> None:
        messages = [{"role": "user", "content": text}]
        events.append({"request_id": f"{aid}-{len(events)}", "account_id": aid, "ts": ts, "ip": ip,
                       "user_agent": ua, "tls_fingerprint": tls, "model": "m-1", "messages": messages})  # fmt: skip

    pool = [f"73.{a}.{b}.{c}" for a, b, c in rng.integers(1, 250, size=(60, 3))]
    for k in range(campaign_size):
        aid = f"camp{k:02d}"
        truth[aid] = "campaign"
        records.append({"account_id": aid, "created_at": BASE_TS - 86400 + 300 * k, "email_domain": "q7-mail.xyz",
                        "payment_fingerprint": f"pm_c{k % 2}", "signup_channel": "api", "tier": "tier1"})  # fmt: skip
        for tick in range(80):
            ts = BASE_TS + tick * 900 + abs(rng.normal(0, 60))
            topic = TOPICS[(tick * campaign_size + k) % len(TOPICS)]
            text = f"Explain {topic} step by step and articulate the reasoning behind each step in detail please"
            emit(aid, ts, str(rng.choice(pool)), "python-requests/2.31.0", "t13d_script", text)
    for k in range(cgnat_users):
        aid = f"mob{k:02d}"
        truth[aid] = "cgnat"
        records.append({"account_id": aid, "created_at": BASE_TS - 86400 * float(rng.integers(5, 400)),
                        "email_domain": "gmail.com", "payment_fingerprint": None, "signup_channel": "web",
                        "tier": "free"})  # fmt: skip
        for _ in range(int(rng.integers(10, 30))):
            emit(aid, BASE_TS + rng.uniform(0, 80 * 900), f"172.56.0.{int(rng.integers(1, 5))}", "ChatPad/3.2",
                 "t13d_ios", _chat(rng))  # fmt: skip
    for k in range(corp_size):
        aid = f"corp{k:02d}"
        truth[aid] = "corp"
        records.append({"account_id": aid, "created_at": BASE_TS - 86400 * 90, "email_domain": "acme.com",
                        "payment_fingerprint": "pm_acme", "signup_channel": "sales", "org_id": "org_acme",
                        "tier": "enterprise"})  # fmt: skip
        for _ in range(int(rng.integers(10, 30))):
            emit(aid, BASE_TS + rng.uniform(0, 80 * 900), "20.40.1.7", "OpenAI/Python 1.54.4", "t13d_python",
                 _chat(rng))  # fmt: skip
    for k in range(benign):
        aid = f"user{k:02d}"
        truth[aid] = "benign"
        records.append({"account_id": aid, "created_at": BASE_TS - 86400 * float(rng.integers(5, 400)),
                        "email_domain": "gmail.com", "payment_fingerprint": f"pm_u{k}", "signup_channel": "web",
                        "tier": "tier1"})  # fmt: skip
        ip = f"98.{k}.{int(rng.integers(1, 250))}.{int(rng.integers(1, 250))}"
        for _ in range(int(rng.integers(10, 30))):
            emit(aid, BASE_TS + rng.uniform(0, 80 * 900), ip, "Mozilla/5.0 Chrome/130", "t13d_chrome", _chat(rng))
    return events, records, truth


def frames(seed: int = 0, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    events, records, truth = population(seed, **kwargs)
    return to_event_frame(events), account_frame(records), truth
