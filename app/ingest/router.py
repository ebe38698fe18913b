"""Ingest routes: canonical events, account metadata, and the LiteLLM and Kong gateway formats."""

# no `from __future__ import annotations`: FastAPI resolves the Annotated dependencies at definition time
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.auth.dependencies import IngestKey
from app.config import Settings
from app.db import SessionDep
from app.ingest import service
from app.ingest.adapters.kong import kong_event
from app.ingest.adapters.litellm import litellm_event
from app.ingest.parsing import Limits, is_ndjson, iter_records, read_body
from app.ingest.schemas import AccountsResponse, IngestResponse

router = APIRouter(prefix="/v1", tags=["ingest"])

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of records, or NDJSON (one record per line); optionally gzip "
        "(Content-Encoding: gzip). Bodies up to max_body_bytes, up to max_records_per_request records.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON (detail gives the byte position and, for NDJSON, the line) or gzip"},
    413: {"description": "body, inflated body or record count over its limit"},
    415: {"description": "unsupported Content-Encoding"},
}


async def _records(request: Request) -> Any:
    settings: Settings = request.app.state.settings
    body = await read_body(
        request.stream(),
        content_encoding=request.headers.get("content-encoding"),
        content_length=request.headers.get("content-length"),
        limits=Limits(settings.max_body_bytes, settings.max_decompressed_bytes),
    )
    return iter_records(body, ndjson=is_ndjson(body, request.headers.get("content-type")))


async def _ingest(request: Request, session: Any, source: str, adapter: service.Adapter | None) -> IngestResponse:
    settings: Settings = request.app.state.settings
    records = await _records(request)
    result = await run_in_threadpool(
        partial(
            service.ingest_records,
            session=session,
            records=records,
            retention=settings.prompt_retention,
            max_records=settings.max_records_per_request,
            adapter=adapter,
        )
    )
    metrics = request.app.state.metrics
    metrics.events_ingested.labels(source).inc(result.accepted)
    metrics.events_duplicate.labels(source).inc(result.duplicates)
    metrics.events_rejected.labels(source).inc(result.rejected_count)
    return IngestResponse(accepted=result.accepted, duplicates=result.duplicates, rejected=result.rejected)


@router.post("/events", response_model=IngestResponse, openapi_extra=_BODY, responses=_ERRORS)
async def post_events(request: Request, session: SessionDep, principal: IngestKey) -> IngestResponse:
    """Store canonical events (SPEC: data model); each rejected record is listed with its errors."""
    return await _ingest(request, session, "events", None)


@router.post("/ingest/litellm", response_model=IngestResponse, openapi_extra=_BODY, responses=_ERRORS)
async def post_litellm(request: Request, session: SessionDep, principal: IngestKey) -> IngestResponse:
    """LiteLLM StandardLoggingPayload records, as GenericAPILogger posts them (json_array or ndjson)."""
    fields = request.app.state.settings.litellm_account_fields
    return await _ingest(request, session, "litellm", partial(litellm_event, account_fields=fields))


@router.post("/ingest/kong", response_model=IngestResponse, openapi_extra=_BODY, responses=_ERRORS)
async def post_kong(request: Request, session: SessionDep, principal: IngestKey) -> IngestResponse:
    """Kong http-log bodies: one object, or an array when the plugin batches."""
    fields = request.app.state.settings.kong_account_fields
    return await _ingest(request, session, "kong", partial(kong_event, account_fields=fields))


@router.post("/accounts", response_model=AccountsResponse, openapi_extra=_BODY, responses=_ERRORS)
async def post_accounts(request: Request, session: SessionDep, principal: IngestKey) -> AccountsResponse:
    """Upsert account metadata by account_id; fields a record leaves out keep their stored value."""
    settings: Settings = request.app.state.settings
    records = await _records(request)
    result = await run_in_threadpool(
        partial(service.upsert_accounts, session=session, records=records, max_records=settings.max_records_per_request)
    )
    return AccountsResponse(upserted=result.upserted, rejected=result.rejected)
