"""The case workflow: verdicts, assignment, the review queue and the export of confirmed accounts.

Every change an analyst makes is written to the append-only audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.audit import repository as audit
from app.auth.service import Principal
from app.errors import NotFound
from app.review import repository, webhooks
from app.review.models import Review
from app.review.repository import REGROWTH_MIN_ACCOUNTS, REGROWTH_PERCENT, QueueFilter
from app.review.schemas import ConfirmedAccount, QueueItem, Verdict
from app.scoring.models import Cluster
from detectors.events import normalise_ip


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def is_regrown(cluster: Cluster) -> bool:
    before = cluster.size_at_decision
    if cluster.status not in ("confirmed", "dismissed") or before is None:
        return False
    return cluster.size * 100 >= before * (100 + REGROWTH_PERCENT) and cluster.size >= before + REGROWTH_MIN_ACCOUNTS


def get_cluster(*, session: Session, cluster_id: str) -> Cluster:
    cluster = repository.get_cluster(session=session, cluster_id=cluster_id)
    if cluster is None:
        raise NotFound(f"no cluster {cluster_id!r}")
    return cluster


def review_cluster(
    *,
    session: Session,
    cluster_id: str,
    verdict: Verdict,
    note: str | None,
    principal: Principal,
    webhook_urls: Sequence[str] = (),
) -> Review:
    """Record a verdict: the cluster takes it as its status and leaves the queue until it grows materially."""
    cluster = repository.get_cluster(session=session, cluster_id=cluster_id, for_update=True)
    if cluster is None:
        raise NotFound(f"no cluster {cluster_id!r}")
    members = repository.member_ids(session=session, cluster_id=cluster_id)
    note = (note or "").strip() or None
    now = datetime.now(UTC)
    previous = cluster.status
    cluster.status = verdict
    cluster.size_at_decision = cluster.size
    review = repository.add_review(
        session=session,
        review=Review(
            cluster_id=cluster_id, verdict=verdict, note=note, reviewer=principal.actor, cluster_size=cluster.size,
            members="\n".join(members), created_at=now,
        ),
    )  # fmt: skip
    audit.append(
        session=session, actor=principal.actor, action="cluster.review", target_type="cluster", target_id=cluster_id,
        detail={"verdict": verdict, "note": note, "review_id": review.id, "previous_status": previous,
                "size": cluster.size},
    )  # fmt: skip
    if verdict == "confirmed":
        webhooks.enqueue_confirmed(session=session, cluster=cluster, review=review, members=members, urls=webhook_urls)
    return review


def assign_cluster(*, session: Session, cluster_id: str, assignee: str | None, principal: Principal) -> Cluster:
    cluster = repository.get_cluster(session=session, cluster_id=cluster_id, for_update=True)
    if cluster is None:
        raise NotFound(f"no cluster {cluster_id!r}")
    name = principal.name if assignee == "me" else ((assignee or "").strip() or None)
    previous = cluster.assignee
    if name != previous:
        cluster.assignee = name
        audit.append(
            session=session, actor=principal.actor, action="cluster.assign", target_type="cluster",
            target_id=cluster_id, detail={"assignee": name, "previous": previous},
        )  # fmt: skip
    return cluster


def list_reviews(*, session: Session, cluster_id: str) -> list[Review]:
    get_cluster(session=session, cluster_id=cluster_id)
    return repository.reviews_for(session=session, cluster_id=cluster_id)


def queue_item(cluster: Cluster) -> QueueItem:
    return QueueItem(
        cluster_id=cluster.cluster_id, score=cluster.score, flagged=cluster.flagged, size=cluster.size,
        status=cluster.status, first_seen=as_utc(cluster.first_seen), last_seen=as_utc(cluster.last_seen),
        top_reasons=list(cluster.top_reasons or []), assignee=cluster.assignee,
        size_at_decision=cluster.size_at_decision, regrown=is_regrown(cluster),
    )  # fmt: skip


def queue(
    *, session: Session, filters: QueueFilter, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[QueueItem], int]:
    """Flagged clusters awaiting review (or the chosen status), riskiest first; ``search`` narrows by
    cluster id prefix, member account id or an IP a member used."""
    search = (search or "").strip()
    if search:
        try:
            ip: str | None = normalise_ip(search)
        except ValueError:
            ip = None
        matches = repository.search_cluster_ids(session=session, text=search, ip=ip)
        filters = QueueFilter(
            status=filters.status, min_score=filters.min_score, min_size=filters.min_size,
            assignee=filters.assignee, cluster_ids=frozenset(matches),
        )  # fmt: skip
    clusters, total = repository.queue(session=session, filters=filters, limit=limit, offset=offset)
    return [queue_item(cluster) for cluster in clusters], total


def export_confirmed(*, session: Session, format: str, principal: Principal) -> list[ConfirmedAccount]:
    """The confirmed accounts, with an audit entry: who handed which accounts to enforcement, and when."""
    rows = confirmed_accounts(session=session)
    audit.append(session=session, actor=principal.actor, action="export.confirmed", target_type="export",
                 target_id=format, detail={"accounts": len(rows)})  # fmt: skip
    return rows


def confirmed_accounts(*, session: Session) -> list[ConfirmedAccount]:
    """Accounts an analyst confirmed: the members of each confirmed cluster as they were at the verdict."""
    confirmed = repository.confirmed_reviews(session=session)
    account_ids = sorted({a for review, _ in confirmed for a in review.members.split("\n") if a})
    risks = repository.risk_scores(session=session, account_ids=account_ids)
    rows: list[ConfirmedAccount] = []
    for review, cluster in confirmed:
        confirmed_at = as_utc(review.created_at) or review.created_at
        for account_id in (a for a in review.members.split("\n") if a):
            rows.append(
                ConfirmedAccount(
                    account_id=account_id, cluster_id=cluster.cluster_id, review_id=review.id,
                    confirmed_at=confirmed_at, reviewer=review.reviewer, cluster_score=cluster.score,
                    risk_score=risks.get(account_id), note=review.note,
                )
            )  # fmt: skip
    return rows
