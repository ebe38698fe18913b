"""Prometheus counters of the review workflow, registered in the app's own registry (see app.observability)."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter


class ReviewMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.verdicts = Counter("distillguard_review_verdicts_total", "Verdicts recorded", ["verdict"],
                                registry=registry)  # fmt: skip
        self.webhook_attempts = Counter(
            "distillguard_webhook_attempts_total", "Webhook delivery attempts by outcome (delivered, retry, failed)",
            ["event", "outcome"], registry=registry,
        )  # fmt: skip


def install(app: FastAPI) -> ReviewMetrics:
    metrics = ReviewMetrics(app.state.metrics.registry)
    app.state.review_metrics = metrics
    return metrics


def count_verdict(app: FastAPI, verdict: str) -> None:
    metrics: ReviewMetrics | None = getattr(app.state, "review_metrics", None)
    if metrics is not None:
        metrics.verdicts.labels(verdict).inc()
