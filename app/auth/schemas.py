from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.auth.service import Role


class KeyCreate(BaseModel):
    role: Role
    name: str


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyOut):
    key: str  # the raw key, shown once
