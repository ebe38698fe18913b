"""Structured JSON logs carrying the request id, and Prometheus metrics."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import uuid
from typing import Any

import orjson
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "distillguard_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "distillguard_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        self.events_ingested = Counter(
            "distillguard_events_ingested_total", "Events stored", ["source"], registry=self.registry
        )
        self.events_duplicate = Counter(
            "distillguard_events_duplicate_total", "Events already stored", ["source"], registry=self.registry
        )
        self.events_rejected = Counter(
            "distillguard_events_rejected_total", "Events rejected by validation", ["source"], registry=self.registry
        )
        self.detection_runs = Counter(
            "distillguard_detection_runs_total", "Detection runs finished", ["status"], registry=self.registry
        )


class RequestContextMiddleware:
    """Request id, access log and metrics around every request, as plain ASGI.

    Starlette's ``@app.middleware("http")`` wraps each request in a task and a streamed response body; a
    few-millisecond read endpoint pays for that on every call, so this sees only the ``http.response.start``
    message (for the status, and to add ``X-Request-ID``) and passes everything else through untouched.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.access = logging.getLogger("distillguard.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode("latin-1", "replace"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route_path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, route_path, str(status)).inc()
            self.metrics.latency.labels(method, route_path).observe(elapsed)
            if self.access.isEnabledFor(logging.INFO):
                self.access.info(
                    "request",
                    extra={"method": method, "path": scope["path"], "status": status,
                           "duration_ms": round(elapsed * 1000, 2)},
                )  # fmt: skip
            request_id_var.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1") or None
    return None


def install_request_middleware(app: FastAPI, metrics: Metrics) -> None:
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
