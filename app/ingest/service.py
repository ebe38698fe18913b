"""Ingest: records → validated canonical events → stored rows, with a per-record account of failures.

Used by the HTTP routes and by the bulk importer alike.  A bad record is reported (index, field,
reason) and never costs the good records of its batch; a repeated ``request_id`` is counted as a
duplicate and stored once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.errors import PayloadTooLarge
from app.ingest import repository
from app.ingest.parsing import Unparsed
from app.ingest.schemas import Errors, RejectedRecord, rejected, validate_account, validate_event
from app.ingest.scrub import key_identity, scrub_messages, scrub_text
from detectors.events import (
    DERIVED_COLUMNS,
    Retention,
    conversation_values,
    derived_values,
    epoch_seconds,
    normalise_ip,
)

_ingest_head: Callable[..., Any] | None
try:  # built by `pip install -e .`; without it every record takes the Python path (its reference)
    from detectors._textfast import ingest_head as _ingest_head
    from detectors._textfast import joined_row as _joined_row  # head + tail, left alone by the cyclic GC
except ImportError:  # pragma: no cover - a build without a C compiler
    _ingest_head = None

# a gateway record → a canonical event (or the reasons it cannot be one)
Adapter = Callable[[Any], tuple[dict[str, Any] | None, Errors]]

WRITE_EVERY = 5000  # rows handed to the database at a time, bounding memory for large bodies
_MAX_REJECTED_LISTED = 1000  # kept by IngestResult.merge (bulk imports)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedRecord] = field(default_factory=list)
    rejected_count: int = 0

    def merge(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected_count += other.rejected_count
        room = _MAX_REJECTED_LISTED - len(self.rejected)
        self.rejected.extend(other.rejected[: max(room, 0)])


def stored_row(event: dict[str, Any], retention: Retention, ingested_at: float) -> tuple[Any, ...]:
    """A validated canonical event → a row tuple in ``repository.STORED_COLUMNS`` order.

    What ``event_row`` gives, built straight into the tuple: ``validate_event`` has already made
    ``ts`` epoch seconds and ``ip`` canonical, so neither is parsed again.
    """
    get = event.get
    messages = get("messages")
    if messages:
        messages = scrub_messages(messages)
    prompt = get("prompt")
    if prompt:
        prompt = scrub_text(prompt)
    derived = derived_values(messages, prompt, retention)
    if "\x00" in (derived[_PROMPT_TEXT] or "") or "\x00" in (derived[_SYSTEM_TEXT] or ""):
        derived = _without_nul(derived)  # from the scrubbed messages; PostgreSQL text cannot hold NUL
    agent = get("user_agent")
    return (
        get("request_id"), _identity(get("account_id")), get("ts"), ingested_at, _identity(get("api_key_id")),
        get("org_id"), _identity(get("end_user_id")), get("ip") or None, scrub_text(agent) if agent else agent,
        get("tls_fingerprint"), get("model"), get("endpoint"), get("conversation_id"), get("max_tokens"), get("n"),
        get("temperature"), get("top_p"), get("stream"), get("tools"), get("prompt_tokens"),
        get("completion_tokens"), get("status"), get("latency_ms"), *derived,
    )  # fmt: skip


def fast_row(event: Any, retention: Retention, ingested_at: float) -> tuple[Any, ...] | None:
    """``stored_row(validate_event(event)[0], ...)`` for an event of the common shape, None for any other.

    The C extension checks the event and reads its conversation in one call; None (an error, or
    anything validation or scrubbing would rewrite) sends the record down the Python path, which
    stays the reference (tests/ingest/test_fast_path.py).  The event is left as it was.
    """
    if _ingest_head is None:
        return None
    fast = _ingest_head(event, ingested_at, normalise_ip, epoch_seconds)
    if fast is None:
        return None
    head, user_text, system_text, n_messages, n_user, n_assistant, chars = fast
    return _joined_row(head, conversation_values(user_text, system_text, n_messages, n_user, n_assistant, chars,
                                                 retention))  # fmt: skip


def _identity(value: Any) -> Any:
    """A raw key sent as an identity is kept as its SHA-256."""
    if value and scrub_text(value) is not value:
        return key_identity(value)
    return value


_PROMPT_TEXT = DERIVED_COLUMNS.index("prompt_text")
_SYSTEM_TEXT = DERIVED_COLUMNS.index("system_text")


def _without_nul(derived: tuple[Any, ...]) -> tuple[Any, ...]:
    values = list(derived)
    for i in (_PROMPT_TEXT, _SYSTEM_TEXT):
        if values[i]:
            values[i] = values[i].replace("\x00", "")
    return tuple(values)


def ingest_records(
    *,
    session: Session,
    records: Iterable[Any],
    retention: Retention,
    max_records: int | None = None,
    adapter: Adapter | None = None,
    index_offset: int = 0,
) -> IngestResult:
    """Validate and store ``records``; raises PayloadTooLarge past ``max_records`` (nothing is kept then)."""
    result = IngestResult()
    writer = repository.EventWriter(session)
    seen: set[str] = set()
    rows: list[tuple[Any, ...]] = []
    ingested_at = time.time()
    count = 0

    def first_time(request_id: str) -> bool:
        """False for a request id already seen in this batch (counted as a duplicate)."""
        if request_id in seen:
            result.duplicates += 1
            return False
        seen.add(request_id)
        return True

    for index, record in enumerate(records, start=index_offset):
        count += 1
        if max_records is not None and count > max_records:
            raise PayloadTooLarge(
                f"more than {max_records} records in one request; split the batch",
                {"limit": max_records},
            )
        if isinstance(record, Unparsed):
            _reject(result, rejected(index, None, [("", record.reason)]))
            continue
        event, errors = (record, []) if adapter is None else adapter(record)
        row = None if event is None else fast_row(event, retention, ingested_at)
        if row is None:
            if event is not None:
                event, errors = validate_event(event)
            if event is None:
                _reject(result, rejected(index, record, errors))
                continue
            if not first_time(event["request_id"]):
                continue
            try:
                row = stored_row(event, retention, ingested_at)
            except (ValueError, TypeError, AttributeError) as exc:  # content the validators let through
                _reject(result, rejected(index, record, [("", f"cannot be read: {exc}")]))
                continue
        elif not first_time(row[0]):
            continue
        rows.append(row)
        if len(rows) >= WRITE_EVERY:
            writer.add(rows)
            rows = []
    writer.add(rows)
    inserted = writer.finish()
    result.accepted = inserted
    result.duplicates += len(seen) - inserted
    return result


def _reject(result: IngestResult, record: RejectedRecord) -> None:
    result.rejected_count += 1
    result.rejected.append(record)


@dataclass
class AccountsResult:
    upserted: int = 0
    rejected: list[RejectedRecord] = field(default_factory=list)


def upsert_accounts(*, session: Session, records: Iterable[Any], max_records: int | None = None) -> AccountsResult:
    result = AccountsResult()
    merged: dict[str, dict[str, Any]] = {}  # a later record for the same account wins, field by field
    for index, record in enumerate(records):
        if max_records is not None and index >= max_records:
            raise PayloadTooLarge(f"more than {max_records} records in one request", {"limit": max_records})
        values, errors = validate_account(record)
        if values is None:
            result.rejected.append(rejected(index, record, errors))
            continue
        merged.setdefault(values["account_id"], {}).update(values)
    result.upserted = repository.upsert_accounts(session=session, records=merged.values())
    return result
