"""Read-only queries behind the case pages: members, activity, infrastructure links, prompts, accounts.

Everything is bounded (LIMITs, or a capped list of member ids) so a cluster of thousands of accounts
still renders in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func, select
from sqlalchemy.orm import Session

from app.ingest.models import Account, Event
from app.scoring.models import AccountScore, Cluster, ClusterMember, DetectionArtifact

CHUNK = 500
ACTIVITY_ACCOUNTS = 1000  # a hydra cluster may hold 20,000 accounts; its charts are drawn from the riskiest


@dataclass(frozen=True, slots=True)
class MemberRow:
    account_id: str
    risk_score: float | None
    flagged: bool | None
    created_at: datetime | None
    country: str | None
    signup_channel: str | None
    email_domain: str | None
    payment_fingerprint: str | None
    first_seen: float | None
    last_seen: float | None


def data_now(*, session: Session) -> float | None:
    """The newest event's timestamp: "now" for the data, which may be replayed or back-filled logs."""
    value = session.scalar(select(func.max(Event.ts)))
    return None if value is None else float(value)


def max_event_id(*, session: Session) -> int:
    return int(session.scalar(select(func.max(Event.id))) or 0)


def _member_of(cluster_id: str) -> ColumnElement[bool]:
    """Events of the cluster's riskiest ``ACTIVITY_ACCOUNTS`` members: enough to see its rhythm, bounded in cost."""
    members = (
        select(ClusterMember.account_id)
        .outerjoin(AccountScore, AccountScore.account_id == ClusterMember.account_id)
        .where(ClusterMember.cluster_id == cluster_id)
        .order_by(AccountScore.risk_score.desc().nulls_last(), ClusterMember.account_id)
        .limit(ACTIVITY_ACCOUNTS)
    )
    return Event.account_id.in_(members)


def cluster_event_span(*, session: Session, cluster_id: str) -> tuple[float | None, float | None, int]:
    row = session.execute(
        select(func.min(Event.ts), func.max(Event.ts), func.count()).where(_member_of(cluster_id))
    ).one()
    return (None if row[0] is None else float(row[0]), None if row[1] is None else float(row[1]), int(row[2]))


def hourly_counts(*, session: Session, cluster_id: str | None, start: float, end: float) -> dict[int, int]:
    """Requests per hour since the epoch (hour index → count) in [start, end], for a cluster or everyone."""
    hour = cast(Event.ts, BigInteger) // 3600
    query = select(hour, func.count()).where(Event.ts >= start, Event.ts <= end).group_by(hour)
    if cluster_id is not None:
        query = query.where(_member_of(cluster_id))
    return {int(h): int(n) for h, n in session.execute(query)}


MEMBER_COLUMNS = (
    ClusterMember.account_id, AccountScore.risk_score, AccountScore.flagged, Account.created_at, Account.country,
    Account.signup_channel, Account.email_domain, Account.payment_fingerprint, Account.first_seen, Account.last_seen,
)  # fmt: skip


def members(*, session: Session, cluster_id: str, limit: int) -> list[MemberRow]:
    query = (
        select(*MEMBER_COLUMNS)
        .outerjoin(AccountScore, AccountScore.account_id == ClusterMember.account_id)
        .outerjoin(Account, Account.account_id == ClusterMember.account_id)
        .where(ClusterMember.cluster_id == cluster_id)
        .order_by(AccountScore.risk_score.desc().nulls_last(), ClusterMember.account_id)
        .limit(limit)
    )
    return [MemberRow(**row._mapping) for row in session.execute(query)]


def event_counts(*, session: Session, account_ids: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(account_ids), CHUNK):
        chunk = list(account_ids[start : start + CHUNK])
        query = select(Event.account_id, func.count()).where(Event.account_id.in_(chunk)).group_by(Event.account_id)
        counts.update({a: int(n) for a, n in session.execute(query)})
    return counts


def text_sample(*, session: Session, cluster_id: str | None, limit: int) -> list[tuple[str | None, str | None]]:
    """(token_hashes, prompt_text) of the newest events with text, of a cluster's members or of everyone."""
    query = select(Event.token_hashes, Event.prompt_text).where(Event.token_hashes.is_not(None))
    if cluster_id is not None:
        query = query.where(_member_of(cluster_id))
    rows = session.execute(query.order_by(Event.id.desc()).limit(limit))
    return [(hashes, text) for hashes, text in rows]


def account_links(
    *, session: Session, account_ids: Sequence[str], column: Any, per_account: int = 400
) -> list[tuple[str, str, int]]:
    """(account, value, requests) for ``column`` (e.g. Event.ip) over the given accounts."""
    if not account_ids:
        return []
    query = (
        select(Event.account_id, column, func.count())
        .where(Event.account_id.in_(list(account_ids)), column.is_not(None))
        .group_by(Event.account_id, column)
        .limit(per_account * len(account_ids))
    )
    return [(a, str(v), int(n)) for a, v, n in session.execute(query)]


def accounts(*, session: Session, account_ids: Sequence[str]) -> dict[str, Account]:
    found: dict[str, Account] = {}
    for start in range(0, len(account_ids), CHUNK):
        chunk = list(account_ids[start : start + CHUNK])
        found.update({a.account_id: a for a in session.scalars(select(Account).where(Account.account_id.in_(chunk)))})
    return found


def recent_events(*, session: Session, account_ids: Sequence[str], limit: int) -> list[Event]:
    if not account_ids:
        return []
    query = select(Event).where(Event.account_id.in_(list(account_ids))).order_by(Event.ts.desc()).limit(limit)
    return list(session.scalars(query))


def account(*, session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def account_score(*, session: Session, account_id: str) -> AccountScore | None:
    return session.get(AccountScore, account_id)


def account_activity(*, session: Session, account_id: str) -> tuple[int, int, float | None, float | None]:
    """(requests, distinct IPs, first and last request time) of one account."""
    count, ips, first, last = session.execute(
        select(func.count(), func.count(func.distinct(Event.ip)), func.min(Event.ts), func.max(Event.ts)).where(
            Event.account_id == account_id
        )
    ).one()
    return int(count), int(ips), first, last


def clusters_of_account(*, session: Session, account_id: str) -> list[Cluster]:
    query = (
        select(Cluster)
        .join(ClusterMember, ClusterMember.cluster_id == Cluster.cluster_id)
        .where(ClusterMember.account_id == account_id)
        .order_by(Cluster.active.desc(), Cluster.score.desc())
    )
    return list(session.scalars(query))


def artifact_version(*, session: Session, name: str) -> str | None:
    """Which run last wrote a detection artifact (cheap: the payload is not read)."""
    row = session.execute(
        select(DetectionArtifact.run_id, DetectionArtifact.updated_at).where(DetectionArtifact.name == name)
    ).first()
    return None if row is None else f"{row[0]}@{row[1]}"


def artifact_payload(*, session: Session, name: str) -> bytes | None:
    return session.scalar(select(DetectionArtifact.payload).where(DetectionArtifact.name == name))
