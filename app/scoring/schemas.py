"""Wire shapes of the scoring API (../shared/SPEC.md: account risk, cluster summary, detection runs, models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RunMode = Literal["incremental", "full"]
RunStatus = Literal["queued", "running", "done", "failed"]
ClusterStatus = Literal["open", "confirmed", "dismissed", "escalated"]

MAX_PAGE = 1000
DEFAULT_PAGE = 100


class Reason(BaseModel):
    feature: str
    value: float | str | None
    contribution: float
    text: str


class AccountRisk(BaseModel):
    account_id: str
    risk_score: float | None = Field(description="0..1, higher is riskier; null until a detection run scored it")
    flagged: bool
    cluster_id: str | None
    reasons: list[Reason]
    scored_at: datetime | None
    model_version: str | None


class AccountPage(BaseModel):
    items: list[AccountRisk]
    next_cursor: str | None


class ClusterSummary(BaseModel):
    cluster_id: str
    score: float
    flagged: bool
    size: int
    status: ClusterStatus
    first_seen: datetime | None
    last_seen: datetime | None
    top_reasons: list[Reason]


class ClusterDetail(ClusterSummary):
    members: list[str]
    evidence: list[dict[str, Any]]
    features: dict[str, Any]
    assignee: str | None
    model_version: str | None
    history: list[dict[str, Any]]


class ClusterPage(BaseModel):
    items: list[ClusterSummary]
    next_cursor: str | None


class RunRequest(BaseModel):
    mode: RunMode = "incremental"


class RunAccepted(BaseModel):
    id: str
    status: RunStatus


class RunOut(BaseModel):
    id: str
    status: RunStatus
    mode: RunMode
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    model_version: str | None
    stats: dict[str, Any]
    error: str | None


class RunPage(BaseModel):
    items: list[RunOut]


class ModelOut(BaseModel):
    version: str
    kind: str
    status: str
    created_at: datetime
    promoted_at: datetime | None
    n_labels: int
    metrics: dict[str, Any]


class TrainRequest(BaseModel):
    min_labels: int | None = Field(default=None, ge=2, description="override the configured minimum of labels")
