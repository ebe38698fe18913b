"""Outbound webhooks for enforcement: ``cluster.flagged`` and ``cluster.confirmed``.

Deliveries are written to ``webhook_deliveries`` in the transaction that caused them (an outbox), so
a verdict is never announced unless it was committed and never lost if the process dies. A
background loop sends what is due, signed with HMAC-SHA256, and retries failures with exponential
backoff up to a bounded number of attempts; every attempt's outcome stays in the delivery log.

Receivers verify ``X-Distillguard-Signature: sha256=<hex>``, the HMAC of ``"<timestamp>.<body>"``
under the shared secret, with ``<timestamp>`` from ``X-Distillguard-Timestamp`` (unix seconds);
see :func:`verify_signature`. The payload's ``id`` is stable across retries, for idempotency.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.review import repository
from app.review.models import Review, WebhookDelivery
from app.scoring.models import Cluster

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Distillguard-Signature"
TIMESTAMP_HEADER = "X-Distillguard-Timestamp"
EVENT_HEADER = "X-Distillguard-Event"
DELIVERY_HEADER = "X-Distillguard-Delivery"
MAX_MEMBERS_IN_PAYLOAD = 50_000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 5.0  # seconds before the 2nd attempt; doubles each time
    max_delay: float = 3600.0
    jitter: float = 0.1  # ± share of the delay, so many failing deliveries do not retry in lockstep
    timeout: float = 10.0
    poll_interval: float = 2.0
    lease: float = 120.0  # a claimed delivery is left alone by other processes this long

    def delay(self, attempts: int) -> float:
        base = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        return float(base * (1 + random.uniform(-self.jitter, self.jitter))) if self.jitter else float(base)


def webhook_targets(settings: Settings) -> list[str]:
    """The configured URLs, or none when there is no secret to sign with (unsigned calls are never sent)."""
    if settings.webhook_urls and not settings.webhook_secret:
        log.error("webhook_urls is set but webhook_secret is not: webhooks are disabled")
        return []
    return list(settings.webhook_urls)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300.0, now: float | None = None
) -> bool:
    """What a receiver should check: a valid HMAC and a timestamp close to now (replays are refused)."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature)


def cluster_payload(cluster: Cluster, members: Sequence[str]) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    return {
        "cluster_id": cluster.cluster_id, "score": cluster.score, "flagged": cluster.flagged, "size": cluster.size,
        "status": cluster.status, "first_seen": iso(cluster.first_seen), "last_seen": iso(cluster.last_seen),
        "top_reasons": list(cluster.top_reasons or []), "members": list(members[:MAX_MEMBERS_IN_PAYLOAD]),
    }  # fmt: skip


def enqueue(*, session: Session, event: str, subject_id: str, data: dict[str, Any], urls: Sequence[str]) -> int:
    now = datetime.now(UTC)
    envelope = {"id": uuid.uuid4().hex, "event": event, "created_at": now.isoformat(), "data": data}
    body = orjson.dumps(envelope).decode()
    for url in urls:
        repository.add_delivery(
            session=session,
            delivery=WebhookDelivery(
                event=event, subject_id=subject_id, url=url, payload=body, status="pending", attempts=0,
                created_at=now, next_attempt_at=now,
            ),
        )  # fmt: skip
    return len(urls)


def enqueue_confirmed(
    *, session: Session, cluster: Cluster, review: Review, members: Sequence[str], urls: Sequence[str]
) -> int:
    review_data = {
        "id": review.id, "verdict": review.verdict, "note": review.note, "reviewer": review.reviewer,
        "created_at": (review.created_at if review.created_at.tzinfo else review.created_at.replace(tzinfo=UTC))
        .isoformat(),
    }  # fmt: skip
    data = {"cluster": cluster_payload(cluster, members), "review": review_data}
    return enqueue(session=session, event="cluster.confirmed", subject_id=cluster.cluster_id, data=data, urls=urls)


def notify_cluster_flagged(
    session: Session, cluster: Cluster, *, urls: Sequence[str] | None = None, settings: Settings | None = None
) -> int:
    """Announce a newly flagged cluster (once per cluster and URL); call it in the detection run's transaction.

    Returns the number of deliveries queued. The delivery loop also sweeps for flagged clusters that were
    never announced, so a caller that forgets is caught up within one poll interval.
    """
    targets = list(urls) if urls is not None else webhook_targets(settings or get_settings())
    fresh = [
        url
        for url in targets
        if not repository.delivery_exists(session=session, event="cluster.flagged", subject_id=cluster.cluster_id,
                                          url=url)
    ]  # fmt: skip
    if not fresh or not cluster.flagged:
        return 0
    members = repository.member_ids(session=session, cluster_id=cluster.cluster_id)
    data = {"cluster": cluster_payload(cluster, members)}
    return enqueue(session=session, event="cluster.flagged", subject_id=cluster.cluster_id, data=data, urls=fresh)


class Deliverer:
    """Sends due deliveries from a background thread; ``run_once`` is the whole step, for tests and tools."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        secret: str,
        urls: Sequence[str],
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_attempt: Callable[[str, str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.secret = secret
        self.urls = list(urls)
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.on_attempt = on_attempt or (lambda event, outcome: None)  # (event, delivered | retry | failed)
        self._client = httpx.Client(follow_redirects=False, timeout=self.policy.timeout, trust_env=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- one step ------------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Queue announcements for flagged clusters never announced, then attempt every due delivery."""
        with self.sessions.begin() as session:
            for url in self.urls:
                for cluster in repository.flagged_without_delivery(session=session, url=url):
                    notify_cluster_flagged(session, cluster, urls=[url])
        attempted = 0
        while True:
            now = self.clock()
            with self.sessions.begin() as session:
                due = repository.due_delivery_ids(session=session, now=now)
            if not due:
                return attempted
            for delivery_id in due:
                attempted += self._attempt(delivery_id, now)

    def _attempt(self, delivery_id: int, now: datetime) -> int:
        lease_until = now + timedelta(seconds=self.policy.lease)
        with self.sessions.begin() as session:
            if not repository.claim_delivery(session=session, delivery_id=delivery_id, now=now,
                                             lease_until=lease_until):  # fmt: skip
                return 0
            delivery = repository.get_delivery(session=session, delivery_id=delivery_id)
            assert delivery is not None
            url, event, body = delivery.url, delivery.event, delivery.payload.encode()
        status_code, error = self._post(url, event, delivery_id, body)
        finished = self.clock()
        with self.sessions.begin() as session:
            delivery = repository.get_delivery(session=session, delivery_id=delivery_id)
            assert delivery is not None
            delivery.attempts += 1
            delivery.last_status_code = status_code
            delivery.last_error = error
            if error is None:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", finished, None
            elif delivery.attempts >= self.policy.max_attempts:
                delivery.status, delivery.next_attempt_at = "failed", None
                log.warning("webhook delivery failed for good", extra={"delivery_id": delivery_id, "url": url})
            else:
                delivery.next_attempt_at = finished + timedelta(seconds=self.policy.delay(delivery.attempts))
            # counted before the commit, so whoever sees the log entry also sees the counter
            self.on_attempt(event, "retry" if delivery.status == "pending" else delivery.status)
        return 1

    def _post(self, url: str, event: str, delivery_id: int, body: bytes) -> tuple[int | None, str | None]:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "distillguard-webhooks/1",
            EVENT_HEADER: event,
            DELIVERY_HEADER: str(delivery_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"

    # ---- background loop -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-deliverer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.timeout + 5)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("webhook delivery loop failed; retrying at the next poll")
            self._wake.wait(self.policy.poll_interval)
            self._wake.clear()


def list_deliveries(*, session: Session, status: str | None = None, limit: int = 100) -> list[WebhookDelivery]:
    return repository.list_deliveries(session=session, status=status, limit=limit)


def retry_now(*, session: Session, delivery_id: int) -> WebhookDelivery | None:
    """Give a failed (or waiting) delivery a fresh set of attempts, due immediately."""
    delivery = repository.get_delivery(session=session, delivery_id=delivery_id)
    if delivery is not None and delivery.status != "delivered":
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, datetime.now(UTC)
    return delivery
