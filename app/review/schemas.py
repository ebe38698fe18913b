"""Wire shapes of the review API: verdicts, assignment, the review queue, exports and webhook deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["confirmed", "dismissed", "escalated"]
VERDICTS: tuple[Verdict, ...] = ("confirmed", "dismissed", "escalated")
ExportFormat = Literal["csv", "json"]

MAX_NOTE = 4000


class ReviewCreate(BaseModel):
    verdict: Verdict
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    cluster_id: str
    verdict: Verdict
    note: str | None
    reviewer: str
    cluster_size: int
    created_at: datetime


class ReviewList(BaseModel):
    items: list[ReviewOut]


class AssignRequest(BaseModel):
    assignee: str | None = Field(
        default="me", max_length=200, description='a reviewer\'s name, "me" for the caller, or null to unassign'
    )


class QueueItem(BaseModel):
    cluster_id: str
    score: float
    flagged: bool
    size: int
    status: str
    first_seen: datetime | None
    last_seen: datetime | None
    top_reasons: list[dict[str, Any]]
    assignee: str | None
    size_at_decision: int | None
    regrown: bool = Field(description="decided earlier, back in the queue because it grew materially since")


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int
    next_cursor: str | None


class ConfirmedAccount(BaseModel):
    account_id: str
    cluster_id: str
    review_id: int
    confirmed_at: datetime
    reviewer: str
    cluster_score: float
    risk_score: float | None
    note: str | None


class ConfirmedExport(BaseModel):
    generated_at: datetime
    count: int
    items: list[ConfirmedAccount]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    subject_id: str
    url: str
    status: str
    attempts: int
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
