"""Review API: verdicts, assignment, the queue, the confirmed-accounts export and the webhook delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, Query, Request, Response

from app.audit import repository as audit
from app.auth.dependencies import AdminKey, AnalystKey
from app.config import Settings
from app.db import SessionDep
from app.errors import NotFound
from app.review import charts, export, metrics, service, webhooks
from app.review.repository import QUEUE_STATUSES, QueueFilter
from app.review.schemas import (
    AssignRequest,
    DeliveryOut,
    DeliveryPage,
    ExportFormat,
    QueueItem,
    QueuePage,
    ReviewCreate,
    ReviewList,
    ReviewOut,
)

router = APIRouter(tags=["review"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def wake_deliverer(app: FastAPI) -> None:
    deliverer: webhooks.Deliverer | None = getattr(app.state, "webhooks", None)
    if deliverer is not None:
        deliverer.wake()


@router.post("/v1/clusters/{cluster_id}/review", response_model=ReviewOut)
def review_cluster(
    principal: AnalystKey, cluster_id: str, body: ReviewCreate, session: SessionDep, request: Request,
    background: BackgroundTasks,
) -> ReviewOut:  # fmt: skip
    """Record a verdict; the cluster's status becomes the verdict and it leaves the review queue."""
    review = service.review_cluster(
        session=session, cluster_id=cluster_id, verdict=body.verdict, note=body.note, principal=principal,
        webhook_urls=webhooks.webhook_targets(_settings(request)),
    )  # fmt: skip
    background.add_task(wake_deliverer, request.app)  # runs after the commit, so the delivery is visible
    metrics.count_verdict(request.app, body.verdict)
    return ReviewOut.model_validate(review)


@router.get("/v1/clusters/{cluster_id}/reviews", response_model=ReviewList)
def list_reviews(principal: AnalystKey, cluster_id: str, session: SessionDep) -> ReviewList:
    reviews = service.list_reviews(session=session, cluster_id=cluster_id)
    return ReviewList(items=[ReviewOut.model_validate(review) for review in reviews])


@router.get("/v1/clusters/{cluster_id}/charts", response_model=dict[str, Any])
def cluster_charts(principal: AnalystKey, cluster_id: str, session: SessionDep) -> dict[str, Any]:
    """The data behind the console's charts: hourly activity vs the population, capability and topic
    coverage vs the population, and the shared-infrastructure graph (nodes with layout positions, edges)."""
    return charts.chart_data(session=session, cluster=service.get_cluster(session=session, cluster_id=cluster_id))


@router.post("/v1/clusters/{cluster_id}/assign", response_model=QueueItem)
def assign_cluster(principal: AnalystKey, cluster_id: str, session: SessionDep, body: AssignRequest | None = None,
                   ) -> QueueItem:  # fmt: skip
    """Assign a reviewer: a name, "me" (the default), or null to unassign."""
    assignee = body.assignee if body is not None else "me"
    cluster = service.assign_cluster(session=session, cluster_id=cluster_id, assignee=assignee, principal=principal)
    return service.queue_item(cluster)


@router.get("/v1/review/queue", response_model=QueuePage)
def review_queue(
    principal: AnalystKey,
    session: SessionDep,
    status: Annotated[str, Query(pattern="^(" + "|".join(QUEUE_STATUSES) + ")$")] = "queue",
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    min_size: Annotated[int | None, Query(ge=0)] = None,
    assignee: Annotated[str | None, Query(description='a name, "me", or "none" for unassigned')] = None,
    q: Annotated[str | None, Query(description="cluster id prefix, member account id or IP")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,9}$")] = None,
) -> QueuePage:
    """Clusters awaiting review (status=queue: flagged, open or escalated, or decided and grown since)."""
    who = {"me": principal.name, "none": ""}.get(assignee, assignee) if assignee is not None else None
    offset = int(cursor or 0)
    items, total = service.queue(
        session=session, filters=QueueFilter(status=status, min_score=min_score, min_size=min_size, assignee=who),
        search=q, limit=limit, offset=offset,
    )  # fmt: skip
    next_offset = offset + len(items)
    return QueuePage(items=items, total=total, next_cursor=str(next_offset) if next_offset < total else None)


@router.get("/v1/exports/confirmed", response_model=None, responses={200: {"content": {"text/csv": {}}}})
def export_confirmed(principal: AnalystKey, session: SessionDep, format: ExportFormat = "json") -> Response:
    """Accounts in confirmed clusters (as reviewed), for enforcement: CSV or JSON."""
    rows = service.export_confirmed(session=session, format=format, principal=principal)
    return export.response(rows, format)


@router.get("/v1/webhooks/deliveries", response_model=DeliveryPage)
def list_deliveries(
    principal: AdminKey,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    deliveries = webhooks.list_deliveries(session=session, status=status, limit=limit)
    return DeliveryPage(items=[DeliveryOut.model_validate(d) for d in deliveries])


@router.post("/v1/webhooks/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
def retry_delivery(
    principal: AdminKey, delivery_id: int, session: SessionDep, request: Request, background: BackgroundTasks
) -> DeliveryOut:
    delivery = webhooks.retry_now(session=session, delivery_id=delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    audit.append(session=session, actor=principal.actor, action="webhook.retry", target_type="webhook_delivery",
                 target_id=str(delivery_id))  # fmt: skip
    background.add_task(wake_deliverer, request.app)
    return DeliveryOut.model_validate(delivery)


def install(app: FastAPI) -> None:
    """The review API, and the webhook delivery loop when webhooks are configured."""
    app.include_router(router)
    counters = metrics.install(app)

    def start(app: FastAPI) -> None:
        settings: Settings = app.state.settings
        urls = webhooks.webhook_targets(settings)
        if urls and settings.webhook_secret:
            app.state.webhooks = webhooks.Deliverer(
                app.state.sessionmaker, secret=settings.webhook_secret, urls=urls,
                policy=getattr(app.state, "webhook_policy", None),
                on_attempt=lambda event, outcome: counters.webhook_attempts.labels(event, outcome).inc(),
            )  # fmt: skip
            app.state.webhooks.start()

    def stop(app: FastAPI) -> None:
        deliverer: webhooks.Deliverer | None = getattr(app.state, "webhooks", None)
        if deliverer is not None:
            deliverer.stop()
            app.state.webhooks = None

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
