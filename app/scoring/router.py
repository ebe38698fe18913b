"""Scores, clusters, detection runs and scoring models over HTTP (../shared/SPEC.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, Query, Request

from app.auth.dependencies import AdminKey, AnalystKey
from app.db import SessionDep, read_in_thread
from app.scoring import service, training, worker
from app.scoring.schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    AccountPage,
    AccountRisk,
    ClusterDetail,
    ClusterPage,
    ClusterStatus,
    ModelOut,
    RunAccepted,
    RunOut,
    RunPage,
    RunRequest,
    TrainRequest,
)

router = APIRouter(prefix="/v1", tags=["scoring"])

# limit above the maximum is refused with 422 (not clamped), so a client never silently gets fewer rows per page
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, 1..{MAX_PAGE}")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


@router.get("/accounts", response_model=AccountPage)
def list_accounts(
    session: SessionDep,
    principal: AnalystKey,
    flagged: bool | None = None,
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> AccountPage:
    return service.list_accounts(session=session, flagged=flagged, min_score=min_score, limit=limit, cursor=cursor)


@router.get("/accounts/{account_id}/risk", response_model=AccountRisk)
async def account_risk(account_id: str, request: Request, principal: AnalystKey) -> AccountRisk:
    return await read_in_thread(request, service.account_risk, account_id=account_id)


@router.get("/clusters", response_model=ClusterPage)
def list_clusters(
    session: SessionDep,
    principal: AnalystKey,
    flagged: bool | None = None,
    status: ClusterStatus | None = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> ClusterPage:
    return service.list_clusters(session=session, flagged=flagged, status=status, limit=limit, cursor=cursor)


@router.get("/clusters/{cluster_id}", response_model=ClusterDetail)
def cluster_detail(cluster_id: str, session: SessionDep, principal: AnalystKey) -> ClusterDetail:
    return service.cluster_detail(session=session, cluster_id=cluster_id)


@router.post("/detection/runs", response_model=RunAccepted, status_code=202)
def request_run(
    request: Request, session: SessionDep, principal: AdminKey, body: Annotated[RunRequest | None, Body()] = None
) -> RunAccepted:
    run = service.request_run(session=session, mode=(body or RunRequest()).mode, requested_by=principal.actor)
    wake = getattr(request.app.state, "detection_wakeup", None)
    if wake is not None:
        wake()
    return RunAccepted(id=run.id, status=run.status)  # type: ignore[arg-type]


@router.get("/detection/runs", response_model=RunPage)
def list_runs(session: SessionDep, principal: AnalystKey, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> RunPage:
    return RunPage(items=[service.run_out(run) for run in service.list_runs(session=session, limit=limit)])


@router.get("/detection/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, session: SessionDep, principal: AnalystKey) -> RunOut:
    return service.run_out(service.get_run(session=session, run_id=run_id))


@router.get("/models", response_model=list[ModelOut])
def list_models(session: SessionDep, principal: AnalystKey) -> list[ModelOut]:
    return [ModelOut.model_validate(model, from_attributes=True) for model in training.list_models(session=session)]


@router.post("/models/train", response_model=ModelOut, status_code=201)
def train_model(
    request: Request, session: SessionDep, principal: AdminKey, body: Annotated[TrainRequest | None, Body()] = None
) -> ModelOut:
    model = training.train_candidate(
        session=session, settings=request.app.state.settings, actor=principal.actor,
        min_labels=(body or TrainRequest()).min_labels,
    )  # fmt: skip
    return ModelOut.model_validate(model, from_attributes=True)


@router.post("/models/{version}/promote", response_model=ModelOut)
def promote_model(version: str, session: SessionDep, principal: AdminKey) -> ModelOut:
    return ModelOut.model_validate(training.promote(session=session, version=version, actor=principal.actor),
                                   from_attributes=True)  # fmt: skip


def install(app: FastAPI) -> None:
    """The scoring API, and the embedded detection worker (started by ``serve`` when ``embedded_worker`` is set)."""
    app.include_router(router)
    worker.install(app)
