"""Reads of scores and clusters for the API, and requesting detection runs."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.errors import BadRequest, NotFound
from app.scoring import repository
from app.scoring.models import AccountScore, Cluster, DetectionRun
from app.scoring.schemas import (
    AccountPage,
    AccountRisk,
    ClusterDetail,
    ClusterPage,
    ClusterSummary,
    Reason,
    RunOut,
)


# ---- cursors: opaque to clients, (sort key, id) inside --------------------------------------------------------
def encode_cursor(score: float | None, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([score, key])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, key = orjson.loads(raw)
        if not isinstance(key, str) or not (score is None or isinstance(score, int | float)):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadRequest("invalid cursor: pass back the next_cursor of the previous page unchanged") from None
    return (float(score) if score is not None else None), key


def _reasons(raw: list[dict[str, Any]] | None) -> list[Reason]:
    return [Reason.model_validate(reason) for reason in raw or []]


def _risk(account_id: str, score: AccountScore | None) -> AccountRisk:
    if score is None:
        return AccountRisk(
            account_id=account_id, risk_score=None, flagged=False, cluster_id=None, reasons=[], scored_at=None,
            model_version=None,
        )  # fmt: skip
    return AccountRisk(
        account_id=account_id, risk_score=score.risk_score, flagged=score.flagged, cluster_id=score.cluster_id,
        reasons=_reasons(score.reasons), scored_at=as_utc(score.scored_at), model_version=score.model_version,
    )  # fmt: skip


# ---- accounts --------------------------------------------------------------------------------------------------
def list_accounts(
    *, session: Session, flagged: bool | None, min_score: float | None, limit: int, cursor: str | None
) -> AccountPage:
    after = decode_cursor(cursor) if cursor else None
    rows = repository.list_accounts(
        session=session, flagged=flagged, min_score=min_score, after=after, limit=limit + 1
    )
    items = [_risk(account_id, score) for account_id, score in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        next_cursor = encode_cursor(last.risk_score, last.account_id)
    return AccountPage(items=items, next_cursor=next_cursor)


def account_risk(*, session: Session, account_id: str) -> AccountRisk:
    score = repository.account_score(session=session, account_id=account_id)
    if score is None and not repository.account_known(session=session, account_id=account_id):
        raise NotFound(f"no account {account_id!r} has been seen (in events or account metadata)")
    return _risk(account_id, score)


# ---- clusters --------------------------------------------------------------------------------------------------
def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; everything is stored in UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _summary(cluster: Cluster) -> dict[str, Any]:
    return {
        "cluster_id": cluster.cluster_id, "score": cluster.score, "flagged": cluster.flagged, "size": cluster.size,
        "status": cluster.status, "first_seen": as_utc(cluster.first_seen), "last_seen": as_utc(cluster.last_seen),
        "top_reasons": _reasons(cluster.top_reasons),
    }  # fmt: skip


def list_clusters(
    *, session: Session, flagged: bool | None, status: str | None, limit: int, cursor: str | None
) -> ClusterPage:
    after = decode_cursor(cursor) if cursor else None
    if after is not None and after[0] is None:
        raise BadRequest("invalid cursor: pass back the next_cursor of the previous page unchanged")
    clusters = repository.list_clusters(
        session=session, flagged=flagged, status=status,
        after=(after[0], after[1]) if after is not None and after[0] is not None else None, limit=limit + 1,
    )  # fmt: skip
    items = [ClusterSummary(**_summary(cluster)) for cluster in clusters[:limit]]
    next_cursor = encode_cursor(items[-1].score, items[-1].cluster_id) if len(clusters) > limit and items else None
    return ClusterPage(items=items, next_cursor=next_cursor)


def cluster_detail(*, session: Session, cluster_id: str) -> ClusterDetail:
    cluster = repository.get_cluster(session=session, cluster_id=cluster_id)
    if cluster is None:
        raise NotFound(f"no cluster {cluster_id!r}")
    history = [
        {"kind": entry.kind, "at": as_utc(entry.at), "run_id": entry.run_id, "detail": entry.detail}
        for entry in repository.cluster_history(session=session, cluster_id=cluster_id)
    ]
    return ClusterDetail(
        **_summary(cluster),
        members=repository.cluster_members(session=session, cluster_id=cluster_id),
        evidence=list(cluster.evidence or []), features=dict(cluster.features or {}), assignee=cluster.assignee,
        model_version=cluster.model_version, history=history,
    )  # fmt: skip


# ---- detection runs --------------------------------------------------------------------------------------------
def run_out(run: DetectionRun) -> RunOut:
    return RunOut(
        id=run.id, status=run.status, mode=run.mode, created_at=as_utc(run.created_at),  # type: ignore[arg-type]
        started_at=as_utc(run.started_at), finished_at=as_utc(run.finished_at), model_version=run.model_version,
        stats=dict(run.stats or {}), error=run.error,
    )  # fmt: skip


def request_run(*, session: Session, mode: str, requested_by: str) -> DetectionRun:
    """Queue a run, or return the run already waiting (a full request upgrades a queued incremental run)."""
    waiting = repository.pending_run(session=session)
    if waiting is not None:
        if mode == "full" and waiting.mode != "full":
            waiting.mode = "full"
        return waiting
    run = DetectionRun(
        id="run_" + uuid.uuid4().hex[:20], mode=mode, status="queued", requested_by=requested_by,
        created_at=datetime.now(UTC), stats={},
    )  # fmt: skip
    return repository.add_run(session=session, run=run)


def get_run(*, session: Session, run_id: str) -> DetectionRun:
    run = repository.get_run(session=session, run_id=run_id)
    if run is None:
        raise NotFound(f"no detection run {run_id!r}")
    return run


def list_runs(*, session: Session, limit: int) -> list[DetectionRun]:
    return repository.list_runs(session=session, limit=limit)
