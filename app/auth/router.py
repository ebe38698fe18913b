from __future__ import annotations

from fastapi import APIRouter, Request

from app.auth import service
from app.auth.dependencies import AdminKey
from app.auth.schemas import KeyCreate, KeyCreated, KeyOut
from app.db import SessionDep

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", response_model=list[KeyOut])
def list_keys(session: SessionDep, principal: AdminKey) -> list[KeyOut]:
    return [KeyOut.model_validate(key) for key in service.list_keys(session=session)]


@router.post("", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, session: SessionDep, principal: AdminKey) -> KeyCreated:
    key, raw = service.create_key(session=session, role=body.role, name=body.name, actor=principal.actor)
    return KeyCreated(**KeyOut.model_validate(key).model_dump(), key=raw)


@router.delete("/{key_id}", response_model=KeyOut)
def revoke_key(key_id: int, request: Request, session: SessionDep, principal: AdminKey) -> KeyOut:
    key = service.revoke_key(session=session, key_id=key_id, actor=principal.actor)
    session.commit()  # committed before the cache forgets the key, so no request re-caches it in between
    request.app.state.key_cache.clear()
    return KeyOut.model_validate(key)
