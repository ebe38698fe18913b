"""Where an evaluation's inputs come from: truth.json, events, and the system's account scores
(a file in the shape of ``GET /v1/accounts`` items, or the running service itself)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd

from detectors.events import to_event_frame


@dataclass(frozen=True)
class AccountScore:
    account_id: str
    risk_score: float | None
    flagged: bool
    cluster_id: str | None


def load_truth(path: Path) -> dict[str, Any]:
    truth = orjson.loads(Path(path).read_bytes())
    if not isinstance(truth, dict) or not isinstance(truth.get("accounts"), dict):
        raise ValueError(f"{path}: not a truth file (expected an object with an 'accounts' map)")
    return truth


def iter_ndjson(path: Path) -> Iterator[Any]:
    with Path(path).open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def load_event_frame(path: Path) -> pd.DataFrame:
    """Canonical events (NDJSON) → the event frame, as the service would store it in ``hashed`` mode."""
    return to_event_frame(iter_ndjson(path), "hashed")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y", "t")
    return bool(value)


def _as_score(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def parse_score_records(records: list[dict[str, Any]]) -> dict[str, AccountScore]:
    scores: dict[str, AccountScore] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not record.get("account_id"):
            raise ValueError(f"score record {index} has no account_id")
        account_id = str(record["account_id"])
        cluster = record.get("cluster_id")
        scores[account_id] = AccountScore(
            account_id=account_id,
            risk_score=_as_score(record.get("risk_score")),
            flagged=_as_bool(record.get("flagged", False)),
            cluster_id=str(cluster) if cluster not in (None, "") else None,
        )
    return scores


def load_scores(path: Path) -> dict[str, AccountScore]:
    """Account risk records from JSON (a list or ``{"items": [...]}``), NDJSON or CSV."""
    raw = Path(path).read_bytes()
    text = raw.lstrip()
    if path.suffix.lower() == ".csv" or (text[:1] not in (b"[", b"{") and b"," in text.split(b"\n", 1)[0]):
        return parse_score_records(list(csv.DictReader(io.StringIO(raw.decode("utf-8")))))
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_score_records([orjson.loads(line) for line in raw.splitlines() if line.strip()])
    if isinstance(data, dict) and "items" in data:
        data = data["items"]
    if isinstance(data, dict):  # a single record
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of account risk records")
    return parse_score_records(data)


def fetch_scores(
    base_url: str,
    key: str,
    *,
    page_size: int = 1000,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, AccountScore]:
    """Every account's risk from a running service, paging through ``GET /v1/accounts``."""
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport) as c:
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["cursor"] = cursor
            response = c.get("/v1/accounts", params=params)
            response.raise_for_status()
            page = response.json()
            records.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                return parse_score_records(records)
