"""Every ORM model, imported in one place so Alembic sees the whole schema."""

from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.db import Base
from app.ingest.models import Account, Event
from app.review.models import Review, WebhookDelivery
from app.scoring.models import (
    AccountScore,
    AccountState,
    Cluster,
    ClusterHistory,
    ClusterMember,
    DetectionArtifact,
    DetectionRun,
    ModelVersion,
)

__all__ = [
    "Account",
    "AccountScore",
    "AccountState",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Cluster",
    "ClusterHistory",
    "ClusterMember",
    "DetectionArtifact",
    "DetectionRun",
    "Event",
    "ModelVersion",
    "Review",
    "WebhookDelivery",
]
