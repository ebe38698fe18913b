"""create_app(): the HTTP service. The lifespan builds the engine and applies migrations."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import migrate
from app.auth.router import router as keys_router
from app.auth.service import KeyCache
from app.config import Settings, get_settings
from app.db import make_engine, session_factory
from app.errors import install_error_handlers
from app.health import router as health_router
from app.ingest.router import router as ingest_router
from app.observability import Metrics, configure_logging, install_request_middleware
from app.review.router import install as install_review
from app.scoring.router import install as install_scoring
from app.ui.router import install as install_console

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            migrate.upgrade(settings.database_url)
        for hook in app.state.startup_hooks:
            hook(app)
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                hook(app)
            app.state.engine.dispose()

    configure_logging(settings.log_level, json_logs=settings.log_json)
    app = FastAPI(title="distillguard", version="0.1.0", lifespan=lifespan,
                  description="Detect distillation-extraction campaigns in LLM API traffic.")  # fmt: skip
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.sessionmaker = session_factory(app.state.engine)
    app.state.metrics = Metrics()
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []

    install_error_handlers(app)
    install_request_middleware(app, app.state.metrics)
    app.include_router(health_router)
    app.include_router(keys_router)
    # Each domain package adds its router here (one line each).
    install_review(app)  # review API + webhook delivery loop
    install_console(app)  # /console
    app.include_router(ingest_router)
    install_scoring(app)  # scoring API + embedded detection worker
    return app
