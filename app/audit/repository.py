from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry


def append(
    *, session: Session, actor: str, action: str, target_type: str, target_id: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    entry = AuditEntry(
        at=datetime.now(UTC), actor=actor, action=action, target_type=target_type, target_id=target_id,
        detail=detail or {},
    )  # fmt: skip
    session.add(entry)
    return entry


def list_for(*, session: Session, target_type: str, target_id: str) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.target_type == target_type, AuditEntry.target_id == target_id)
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(query))
