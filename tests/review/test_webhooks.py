"""Webhook delivery against a local receiver: signing, retries with backoff, give-up, and the end-to-end path."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, session_factory
from app.main import create_app
from app.review import webhooks
from app.review.models import WebhookDelivery
from app.scoring.models import Cluster
from tests.review.receiver import receiver
from tests.review.seed import seed_campaign

SECRET = "test-webhook-secret-0123456789"
Headers = Callable[[str], dict[str, str]]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)  # deliveries are queued at the real time

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def _deliverer(settings: Settings, urls: list[str], clock: Clock, **policy: float) -> Iterator[webhooks.Deliverer]:
    engine = make_engine(settings.database_url)
    rules = webhooks.RetryPolicy(**{"base_delay": 10.0, "jitter": 0.0, "timeout": 5.0, **policy})  # type: ignore[arg-type]
    deliverer = webhooks.Deliverer(session_factory(engine), secret=SECRET, urls=urls, policy=rules, clock=clock)
    try:
        yield deliverer
    finally:
        deliverer.stop()
        engine.dispose()


def _deliveries(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC))


def test_signature_round_trip_and_refusals() -> None:
    body = b'{"event":"cluster.confirmed"}'
    now = time.time()
    signature = webhooks.sign(SECRET, int(now), body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify_signature(SECRET, str(int(now)), body, signature, now=now)
    assert not webhooks.verify_signature(SECRET, str(int(now)), body + b" ", signature, now=now)
    assert not webhooks.verify_signature("another-secret-0123456789", str(int(now)), body, signature, now=now)
    assert not webhooks.verify_signature(SECRET, str(int(now)), body, signature, now=now + 3600), "replay"
    assert not webhooks.verify_signature(SECRET, "yesterday", body, signature, now=now)


def test_failing_receiver_is_retried_with_backoff_then_delivered(settings: Settings, db_session: Session) -> None:
    seeded = seed_campaign(db_session)
    db_session.commit()
    clock = Clock()
    with receiver(500, 503, 200) as hook, _deliverer(settings, [hook.url], clock) as deliverer:
        cluster = db_session.get(Cluster, seeded.cluster_id)
        assert webhooks.notify_cluster_flagged(db_session, cluster, urls=[hook.url]) == 1  # type: ignore[arg-type]
        assert webhooks.notify_cluster_flagged(db_session, cluster, urls=[hook.url]) == 0  # type: ignore[arg-type]
        db_session.commit()

        assert deliverer.run_once() == 1
        (delivery,) = _deliveries(db_session)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert _utc(delivery.next_attempt_at) == clock.now + timedelta(seconds=10)
        assert deliverer.run_once() == 0, "not due yet"

        clock.advance(10)
        assert deliverer.run_once() == 1
        (delivery,) = _deliveries(db_session)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
        assert _utc(delivery.next_attempt_at) == clock.now + timedelta(seconds=20), "the delay doubles"

        clock.advance(20)
        assert deliverer.run_once() == 1
        (delivery,) = _deliveries(db_session)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
        assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert len(hook.calls) == 3
    bodies = {call.body for call in hook.calls}
    assert len(bodies) == 1, "every retry sends the same body"
    payload = orjson.loads(hook.calls[0].body)
    assert payload["event"] == "cluster.flagged"
    assert payload["data"]["cluster"]["cluster_id"] == seeded.cluster_id
    assert sorted(payload["data"]["cluster"]["members"]) == sorted(seeded.members)
    for call in hook.calls:
        assert call.headers["x-distillguard-event"] == "cluster.flagged"
        assert webhooks.verify_signature(SECRET, call.headers["x-distillguard-timestamp"], call.body,
                                         call.headers["x-distillguard-signature"])  # fmt: skip


def test_gives_up_after_max_attempts(settings: Settings, db_session: Session) -> None:
    seed_campaign(db_session)
    db_session.commit()
    clock = Clock()
    with receiver(500) as hook, _deliverer(settings, [hook.url], clock, max_attempts=3) as deliverer:
        deliverer.run_once()  # the sweep announces the flagged cluster nobody announced yet
        for _ in range(5):
            clock.advance(3600)
            deliverer.run_once()
    (delivery,) = _deliveries(db_session)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert delivery.last_error is not None and "500" in delivery.last_error
    assert len(hook.calls) == 3


def test_unreachable_receiver_records_the_error(settings: Settings, db_session: Session) -> None:
    seed_campaign(db_session)
    db_session.commit()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    with _deliverer(settings, [url], Clock()) as deliverer:
        assert deliverer.run_once() == 1
    (delivery,) = _deliveries(db_session)
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code is None
    assert delivery.last_error is not None and "Connect" in delivery.last_error


def test_no_secret_means_nothing_is_queued(settings: Settings) -> None:
    unsigned = Settings(database_url=settings.database_url, webhook_urls=["http://127.0.0.1:9/hook"])
    assert webhooks.webhook_targets(unsigned) == []
    signed = Settings(database_url=settings.database_url, webhook_urls=["http://127.0.0.1:9/hook"],
                      webhook_secret=SECRET)  # fmt: skip
    assert webhooks.webhook_targets(signed) == ["http://127.0.0.1:9/hook"]


@pytest.mark.parametrize("script", [(200,), (500, 200)], ids=["ok", "fails-once"])
def test_confirmed_verdict_reaches_the_receiver(
    settings: Settings, auth_headers: Headers, db_session: Session, script: tuple[int, ...]
) -> None:
    seeded = seed_campaign(db_session)
    db_session.commit()
    with receiver(*script) as hook:
        configured = settings.model_copy(update={"webhook_urls": [hook.url], "webhook_secret": SECRET})
        app = create_app(configured)
        app.state.webhook_policy = webhooks.RetryPolicy(base_delay=0.2, jitter=0.0, poll_interval=0.1, timeout=5)
        with TestClient(app) as client:
            response = client.post(f"/v1/clusters/{seeded.cluster_id}/review", headers=auth_headers("analyst"),
                                   json={"verdict": "confirmed", "note": "go"})  # fmt: skip
            assert response.status_code == 200
            admin = auth_headers("admin")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # until both announcements are in the log as delivered
                log = client.get("/v1/webhooks/deliveries", headers=admin).json()["items"]
                if len(log) == 2 and all(d["status"] == "delivered" for d in log):
                    break
                time.sleep(0.05)
            exposition = client.get("/metrics").text
    confirmed = [orjson.loads(c.body) for c in hook.calls if c.headers["x-distillguard-event"] == "cluster.confirmed"]
    assert confirmed, f"no cluster.confirmed delivery arrived: {hook.calls}"
    assert confirmed[-1]["data"]["review"]["verdict"] == "confirmed"
    assert sorted(confirmed[-1]["data"]["cluster"]["members"]) == sorted(seeded.members)
    by_event = {d["event"]: d for d in log}
    assert by_event["cluster.confirmed"]["status"] == "delivered"
    assert by_event["cluster.confirmed"]["attempts"] >= 1
    assert by_event["cluster.flagged"]["status"] == "delivered"
    assert 'distillguard_webhook_attempts_total{event="cluster.confirmed",outcome="delivered"} 1.0' in exposition
    for call in hook.calls:
        assert webhooks.verify_signature(SECRET, call.headers["x-distillguard-timestamp"], call.body,
                                         call.headers["x-distillguard-signature"])  # fmt: skip
