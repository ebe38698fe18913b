"""Procedural clusters, scores and events written straight through the ORM, so review tests do not depend
on detection quality: a coordinated campaign (shared IPs and card, one templated chain-of-thought prompt,
night-time bursts) inside a population of ordinary accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from app.ingest.models import Account, Event
from app.scoring.models import AccountScore, Cluster, ClusterHistory, ClusterMember
from detectors.events import Retention, event_row

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; data timestamps never depend on the wall clock
TOPICS = ("binary search trees", "photosynthesis", "the french revolution", "tcp congestion control",
          "bayesian inference", "sourdough baking", "tax brackets", "rust lifetimes")  # fmt: skip
CASUAL = ("can you help me write a birthday message for my sister", "what is {topic} in simple words",
          "summarise this article about {topic} for me", "plan a three day trip to lisbon",
          "why does my python script say {topic} is undefined", "give me dinner ideas with lentils")  # fmt: skip
CAMPAIGN = "Articulate the reasoning behind {topic} step by step, then grade your answer against a rubric {n}."


@dataclass(frozen=True)
class Seeded:
    cluster_id: str
    members: list[str]
    shared_ip: str
    payment: str
    n_events: int


def _add_event(session: Session, *, request_id: str, account_id: str, ts: float, ip: str, prompt: str,
               retention: Retention) -> None:  # fmt: skip
    canonical = {"request_id": request_id, "account_id": account_id, "ts": ts, "ip": ip, "model": "frontier-2",
                 "endpoint": "/v1/chat/completions", "messages": [{"role": "user", "content": prompt}],
                 "prompt_tokens": 40, "completion_tokens": 600, "status": 200}  # fmt: skip
    row = event_row(canonical, retention)
    row["ts"] = row["ts"].timestamp()
    session.add(Event(**row, ingested_at=ts))


def seed_population(
    session: Session, *, n_accounts: int = 12, events_each: int = 12, seed: int = 1, retention: Retention = "full"
) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = [f"user-{i:03d}" for i in range(n_accounts)]
    for i, account_id in enumerate(ids):
        session.add(Account(account_id=account_id, created_at=T0 - timedelta(days=200 + i), country="DE",
                            signup_channel="web", email_domain="example.org", payment_fingerprint=f"card-u{i}",
                            has_metadata=True))  # fmt: skip
        for j in range(events_each):
            ts = (T0 + timedelta(days=float(rng.uniform(0, 6)), hours=float(rng.normal(14, 3)))).timestamp()
            prompt = str(rng.choice(CASUAL)).format(topic=str(rng.choice(TOPICS)))
            _add_event(session, request_id=f"{account_id}-{j}", account_id=account_id, ts=ts,
                       ip=f"198.51.100.{i + 1}", prompt=prompt, retention=retention)  # fmt: skip
    session.flush()
    return ids


def seed_campaign(
    session: Session,
    *,
    cluster_id: str = "cl-campaign",
    n_accounts: int = 6,
    events_each: int = 20,
    score: float = 0.93,
    status: str = "open",
    flagged: bool = True,
    prefix: str = "acct",
    seed: int = 2,
    retention: Retention = "full",
) -> Seeded:
    rng = np.random.default_rng(seed)
    members = [f"{prefix}-{i:03d}" for i in range(n_accounts)]
    shared_ip, payment = f"203.0.113.{seed % 250 + 1}", f"card-shared-{cluster_id}"
    now = datetime.now(UTC)
    n = 0
    for i, account_id in enumerate(members):
        session.add(Account(account_id=account_id, created_at=T0 - timedelta(days=3), country="SG",
                            signup_channel="api-reseller", email_domain="mailinator.test",
                            payment_fingerprint=payment, has_metadata=True))  # fmt: skip
        session.add(AccountScore(
            account_id=account_id, risk_score=round(score - 0.02 * i, 3), flagged=True, cluster_id=cluster_id,
            reasons=[{"feature": "cot_share", "value": 0.9, "contribution": 0.4,
                      "text": "90% of prompts ask for step-by-step reasoning"}],
            features={"cot_share": 0.9, "topic_breadth": 0.8, "ip_distinct_per_day": 1.0},
            scored_at=now, model_version="test-prior", run_id="run-seed",
        ))  # fmt: skip
        for j in range(events_each):
            ts = (T0 + timedelta(days=int(j % 5), hours=2 + float(rng.uniform(0, 2)))).timestamp()
            prompt = CAMPAIGN.format(topic=TOPICS[(i + j) % len(TOPICS)], n=j)
            if j == 0:
                prompt += " Contact ops@harvest.test with key sk-abcdef1234567890abcd."
            _add_event(session, request_id=f"{cluster_id}-{account_id}-{j}", account_id=account_id, ts=ts,
                       ip=shared_ip if j % 2 == 0 else f"192.0.2.{i + 1}", prompt=prompt,
                       retention=retention)  # fmt: skip
            n += 1
    session.add(Cluster(
        cluster_id=cluster_id, score=score, flagged=flagged, size=n_accounts, status=status, active=True,
        first_seen=T0, last_seen=T0 + timedelta(days=5),
        top_reasons=[{"feature": "shared_payment", "value": 1.0, "contribution": 0.5,
                      "text": f"{n_accounts} accounts share one payment fingerprint"},
                     {"feature": "cot_share", "value": 0.9, "contribution": 0.3,
                      "text": "chain-of-thought elicitation in 90% of prompts"}],
        evidence=[{"text": f"All {n_accounts} accounts were created within 3 days and pay with one card."},
                  {"text": f"Half of their requests come from {shared_ip}."}],
        features={}, created_at=now, updated_at=now, model_version="test-prior", last_run_id="run-seed",
    ))  # fmt: skip
    session.flush()
    session.add_all([ClusterMember(cluster_id=cluster_id, account_id=a) for a in members])
    session.add(ClusterHistory(cluster_id=cluster_id, run_id="run-seed", kind="created", detail={"size": n_accounts},
                               at=now))  # fmt: skip
    session.flush()
    return Seeded(cluster_id, members, shared_ip, payment, n)


def grow(session: Session, cluster_id: str, extra: list[str]) -> None:
    """What a later detection run does when a cluster gains accounts."""
    cluster = session.get(Cluster, cluster_id)
    assert cluster is not None
    session.add_all([ClusterMember(cluster_id=cluster_id, account_id=a) for a in extra])
    cluster.size += len(extra)
    session.flush()
