"""Everything a reviewer sees about one cluster or one account, gathered for the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.audit import repository as audit
from app.errors import NotFound
from app.ingest.models import Account, Event
from app.review import charts, repository, service
from app.review import evidence_repository as evidence
from app.review.models import Review
from app.review.redact import redact
from app.review.schemas import QueueItem
from app.scoring.models import AccountScore, Cluster

MAX_MEMBERS_SHOWN = 200
MAX_PROMPTS = 8
RECENT_REQUESTS = 50


@dataclass(frozen=True)
class MemberView:
    account_id: str
    risk_score: float | None
    flagged: bool | None
    requests: int
    age_days: float | None  # account age when the data ends ("now" of the events)
    country: str | None
    signup_channel: str | None
    email_domain: str | None


@dataclass(frozen=True)
class Request:
    account_id: str
    at: datetime
    ip: str | None
    model: str | None
    endpoint: str | None
    tokens: str
    status: int | None
    cot_score: float | None
    rubric_score: float | None
    text: str | None  # redacted prompt text; None when it was not retained
    template: str | None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str
    actor: str | None
    text: str


@dataclass(frozen=True)
class ClusterCase:
    cluster: Cluster
    summary: QueueItem
    members: list[MemberView]
    reviews: list[Review]
    history: list[HistoryEntry]
    evidence: list[str]
    prompts: list[Request]
    retention: str
    activity: charts.Activity | None
    capabilities: charts.Coverage | None
    topics: charts.Coverage | None
    graph: charts.Graph


@dataclass(frozen=True)
class AccountCase:
    account_id: str
    account: Account | None
    score: AccountScore | None
    requests: int
    distinct_ips: int
    first_seen: datetime | None
    last_seen: datetime | None
    age_days: float | None
    clusters: list[Cluster]
    recent: list[Request]
    retention: str


def _epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _age_days(created_at: datetime | None, now: float | None) -> float | None:
    created = service.as_utc(created_at)
    if created is None or now is None:
        return None
    return max(0.0, (now - created.timestamp()) / 86400)


def evidence_text(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("text", "sentence", "summary", "description"):
            if isinstance(item.get(key), str):
                return str(item[key])
        return ", ".join(f"{k}: {v}" for k, v in item.items())
    return str(item)


def _request(event: Event) -> Request:
    tokens = f"{event.prompt_tokens or 0}→{event.completion_tokens or 0}"
    return Request(
        account_id=event.account_id, at=datetime.fromtimestamp(event.ts, tz=UTC), ip=event.ip, model=event.model,
        endpoint=event.endpoint, tokens=tokens, status=event.status, cot_score=event.cot_score,
        rubric_score=event.rubric_score, text=redact(event.prompt_text) if event.prompt_text else None,
        template=event.template_hash,
    )  # fmt: skip


def _prompt_samples(session: Session, account_ids: list[str]) -> list[Request]:
    """Recent requests of the riskiest members, one per prompt template, so the samples show variety."""
    seen: set[str | None] = set()
    samples = []
    for event in evidence.recent_events(session=session, account_ids=account_ids[:30], limit=400):
        key = event.template_hash or event.text_hash
        if key in seen and key is not None:
            continue
        seen.add(key)
        samples.append(_request(event))
        if len(samples) >= MAX_PROMPTS:
            break
    return samples


def _history(session: Session, cluster_id: str, reviews: list[Review]) -> list[HistoryEntry]:
    entries = [
        HistoryEntry(service.as_utc(h.at) or h.at, h.kind, None,
                     f"run {h.run_id or '—'}: {h.kind}" + (f" ({_detail(h.detail)})" if h.detail else ""))
        for h in repository.history_for(session=session, cluster_id=cluster_id)
    ]  # fmt: skip
    for entry in audit.list_for(session=session, target_type="cluster", target_id=cluster_id):
        if entry.action == "cluster.review":
            text = f"verdict {entry.detail.get('verdict')}" + (f": {entry.detail['note']}" if entry.detail.get("note")
                                                                else "")  # fmt: skip
        elif entry.action == "cluster.assign":
            text = f"assigned to {entry.detail.get('assignee') or 'nobody'}"
        else:
            text = entry.action
        entries.append(HistoryEntry(service.as_utc(entry.at) or entry.at, entry.action, entry.actor, text))
    return sorted(entries, key=lambda e: e.at, reverse=True)


def _detail(detail: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in list(detail.items())[:4] if not isinstance(v, list | dict))


def cluster_case(*, session: Session, cluster_id: str, retention: str) -> ClusterCase:
    cluster = service.get_cluster(session=session, cluster_id=cluster_id)
    now = evidence.data_now(session=session)
    rows = evidence.members(session=session, cluster_id=cluster_id, limit=MAX_MEMBERS_SHOWN)
    ids = [row.account_id for row in rows]
    volume = evidence.event_counts(session=session, account_ids=ids)
    members = [
        MemberView(row.account_id, row.risk_score, row.flagged, volume.get(row.account_id, 0),
                   _age_days(row.created_at, now), row.country, row.signup_channel, row.email_domain)
        for row in rows
    ]  # fmt: skip
    reviews = repository.reviews_for(session=session, cluster_id=cluster_id)
    return ClusterCase(
        cluster=cluster, summary=service.queue_item(cluster), members=members, reviews=reviews,
        history=_history(session, cluster_id, reviews),
        evidence=[evidence_text(item) for item in (cluster.evidence or [])],
        prompts=_prompt_samples(session, ids), retention=retention,
        activity=charts.activity(session=session, cluster_id=cluster_id),
        capabilities=charts.capability_mix(session=session, cluster_id=cluster_id),
        topics=charts.topic_coverage(session=session, cluster_id=cluster_id),
        graph=charts.infrastructure(session=session, cluster_id=cluster_id, size=cluster.size),
    )  # fmt: skip


def account_exists(*, session: Session, account_id: str) -> bool:
    return evidence.account(session=session, account_id=account_id) is not None


def account_case(*, session: Session, account_id: str, retention: str) -> AccountCase:
    account = evidence.account(session=session, account_id=account_id)
    score = evidence.account_score(session=session, account_id=account_id)
    count, ips, first, last = evidence.account_activity(session=session, account_id=account_id)
    if account is None and score is None and not count:
        raise NotFound(f"no account {account_id!r}")
    recent = evidence.recent_events(session=session, account_ids=[account_id], limit=RECENT_REQUESTS)
    return AccountCase(
        account_id=account_id, account=account, score=score, requests=int(count), distinct_ips=int(ips),
        first_seen=_epoch(first), last_seen=_epoch(last),
        age_days=_age_days(account.created_at if account else None, evidence.data_now(session=session)),
        clusters=evidence.clusters_of_account(session=session, account_id=account_id),
        recent=[_request(e) for e in recent], retention=retention,
    )  # fmt: skip
