"""Queries of the review workflow: clusters under review, verdicts, the queue, exports and webhook deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.ingest.models import Event
from app.review.models import Review, WebhookDelivery
from app.scoring.models import AccountScore, Cluster, ClusterHistory, ClusterMember
from detectors.scoring.decision import REOPEN_GROWTH, REOPEN_MIN_NEW

# A decided cluster comes back to the queue when it has grown by this share and by at least this many accounts;
# the same rule by which a detection run reopens it (status back to open), so the queue never disagrees with it.
REGROWTH_PERCENT = round(REOPEN_GROWTH * 100)
REGROWTH_MIN_ACCOUNTS = REOPEN_MIN_NEW
QUEUE_STATUSES = ("queue", "open", "escalated", "confirmed", "dismissed", "all")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: str = "queue"  # one of QUEUE_STATUSES
    min_score: float | None = None
    min_size: int | None = None
    assignee: str | None = None  # a name, or "" for unassigned clusters
    cluster_ids: frozenset[str] | None = None  # restrict to these (a search's matches)


def regrown() -> ColumnElement[bool]:
    return and_(
        Cluster.status.in_(("confirmed", "dismissed")),
        Cluster.size_at_decision.is_not(None),
        Cluster.size * 100 >= Cluster.size_at_decision * (100 + REGROWTH_PERCENT),
        Cluster.size >= Cluster.size_at_decision + REGROWTH_MIN_ACCOUNTS,
    )


def _status_condition(status: str) -> ColumnElement[bool]:
    if status == "queue":
        return and_(Cluster.flagged.is_(True), or_(Cluster.status.in_(("open", "escalated")), regrown()))
    if status == "open":
        return and_(Cluster.flagged.is_(True), Cluster.status == "open")
    if status == "all":
        return Cluster.active.is_(True)
    return Cluster.status == status


def _conditions(filters: QueueFilter) -> list[ColumnElement[bool]]:
    conditions = [Cluster.active.is_(True), _status_condition(filters.status)]
    if filters.min_score is not None:
        conditions.append(Cluster.score >= filters.min_score)
    if filters.min_size is not None:
        conditions.append(Cluster.size >= filters.min_size)
    if filters.assignee == "":
        conditions.append(Cluster.assignee.is_(None))
    elif filters.assignee is not None:
        conditions.append(Cluster.assignee == filters.assignee)
    if filters.cluster_ids is not None:
        conditions.append(Cluster.cluster_id.in_(sorted(filters.cluster_ids)))
    return conditions


def count(*, session: Session, filters: QueueFilter) -> int:
    return session.scalar(select(func.count()).select_from(Cluster).where(*_conditions(filters))) or 0


def queue(*, session: Session, filters: QueueFilter, limit: int, offset: int) -> tuple[list[Cluster], int]:
    conditions = _conditions(filters)
    rows = session.scalars(
        select(Cluster)
        .where(*conditions)
        .order_by(Cluster.score.desc(), Cluster.size.desc(), Cluster.cluster_id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count(session=session, filters=filters)


def search_cluster_ids(*, session: Session, text: str, ip: str | None, limit: int = 500) -> set[str]:
    """Clusters whose id starts with ``text``, that have ``text`` as a member, or a member seen on ``ip``."""
    found = set(session.scalars(select(Cluster.cluster_id).where(Cluster.cluster_id.startswith(text)).limit(limit)))
    found.update(session.scalars(select(ClusterMember.cluster_id).where(ClusterMember.account_id == text)))
    if ip is not None:
        accounts = select(Event.account_id).where(Event.ip == ip).distinct().limit(limit).scalar_subquery()
        found.update(
            session.scalars(select(ClusterMember.cluster_id).where(ClusterMember.account_id.in_(accounts)).distinct())
        )
    return found


def get_cluster(*, session: Session, cluster_id: str, for_update: bool = False) -> Cluster | None:
    query = select(Cluster).where(Cluster.cluster_id == cluster_id)
    if for_update:
        query = query.with_for_update()  # two analysts deciding at once: the second waits and sees the first
    return session.scalar(query)


def member_ids(*, session: Session, cluster_id: str) -> list[str]:
    return list(
        session.scalars(
            select(ClusterMember.account_id)
            .where(ClusterMember.cluster_id == cluster_id)
            .order_by(ClusterMember.account_id)
        )
    )


def add_review(*, session: Session, review: Review) -> Review:
    session.add(review)
    session.flush()
    return review


def reviews_for(*, session: Session, cluster_id: str) -> list[Review]:
    return list(
        session.scalars(
            select(Review).where(Review.cluster_id == cluster_id).order_by(Review.created_at.desc(), Review.id.desc())
        )
    )


def history_for(*, session: Session, cluster_id: str, limit: int = 200) -> list[ClusterHistory]:
    return list(
        session.scalars(
            select(ClusterHistory)
            .where(ClusterHistory.cluster_id == cluster_id)
            .order_by(ClusterHistory.at.desc(), ClusterHistory.id.desc())
            .limit(limit)
        )
    )


def confirmed_reviews(*, session: Session) -> list[tuple[Review, Cluster]]:
    """The latest review of each cluster whose status is confirmed, when that review is the confirmation."""
    latest = select(Review.cluster_id, func.max(Review.id).label("review_id")).group_by(Review.cluster_id).subquery()
    rows = session.execute(
        select(Review, Cluster)
        .join(latest, latest.c.review_id == Review.id)
        .join(Cluster, Cluster.cluster_id == Review.cluster_id)
        .where(Cluster.status == "confirmed", Review.verdict == "confirmed")
        .order_by(Review.created_at, Review.id)
    )
    return [(review, cluster) for review, cluster in rows]


def risk_scores(*, session: Session, account_ids: Sequence[str]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for start in range(0, len(account_ids), 500):
        chunk = list(account_ids[start : start + 500])
        rows = session.execute(
            select(AccountScore.account_id, AccountScore.risk_score).where(AccountScore.account_id.in_(chunk))
        )
        scores.update({account_id: float(score) for account_id, score in rows})
    return scores


# ---- webhook deliveries ------------------------------------------------------------------------------


def add_delivery(*, session: Session, delivery: WebhookDelivery) -> WebhookDelivery:
    session.add(delivery)
    session.flush()
    return delivery


def delivery_exists(*, session: Session, event: str, subject_id: str, url: str) -> bool:
    query = select(WebhookDelivery.id).where(
        WebhookDelivery.event == event, WebhookDelivery.subject_id == subject_id, WebhookDelivery.url == url
    )
    return session.scalar(query.limit(1)) is not None


def flagged_without_delivery(*, session: Session, url: str, limit: int = 100) -> list[Cluster]:
    notified = select(WebhookDelivery.subject_id).where(
        WebhookDelivery.event == "cluster.flagged", WebhookDelivery.url == url
    )
    query = (
        select(Cluster)
        .where(Cluster.flagged.is_(True), Cluster.active.is_(True), Cluster.cluster_id.not_in(notified))
        .order_by(Cluster.cluster_id)
        .limit(limit)
    )
    return list(session.scalars(query))


def due_delivery_ids(*, session: Session, now: datetime, limit: int = 20) -> list[int]:
    query = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim_delivery(*, session: Session, delivery_id: int, now: datetime, lease_until: datetime) -> bool:
    """Push a due delivery's next attempt past its lease; only one process's claim can succeed."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=lease_until)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def get_delivery(*, session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def list_deliveries(*, session: Session, status: str | None, limit: int) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query))
