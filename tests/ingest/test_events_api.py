"""POST /v1/events on SQLite and PostgreSQL: storage, validation, idempotency, limits."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.ingest.helpers import count, make_event, ndjson, rows

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def ingest(client: TestClient, auth_headers: Headers) -> Callable[..., Any]:
    headers = auth_headers("ingest")

    def _post(body: bytes | list[Any], path: str = "/v1/events", **extra: str) -> Any:
        content = orjson.dumps(body) if isinstance(body, list) else body
        return client.post(path, content=content, headers={**headers, **extra})

    return _post


def test_array_ndjson_and_gzip_bodies_are_stored(ingest: Callable[..., Any], db_session: Session) -> None:
    events = [make_event(i) for i in range(30)]
    assert ingest(events[:10]).json() == {"accepted": 10, "duplicates": 0, "rejected": []}
    response = ingest(ndjson(events[10:20]), **{"Content-Type": "application/x-ndjson"})
    assert response.json()["accepted"] == 10
    response = ingest(gzip.compress(ndjson(events[20:])), **{"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["accepted"] == 10
    assert count(db_session) == 30
    stored = rows(db_session, "SELECT request_id, ts, ip, prompt_text, n_messages FROM events WHERE request_id = :r",
                  r="req-0-3")  # fmt: skip
    assert stored[0][1] == pytest.approx(events[3]["ts"])
    assert stored[0][2] == events[3]["ip"]
    assert stored[0][3] == events[3]["messages"][1]["content"]
    assert stored[0][4] == 2


def test_times_are_utc_epoch_seconds_and_ips_are_normalised(ingest: Callable[..., Any], db_session: Session) -> None:
    events = [
        make_event(0, ts="2026-01-01T01:00:00+01:00", ip="::ffff:192.0.2.7"),
        make_event(1, ts="2026-01-01T00:00:00Z", ip="2001:DB8:0:0::1"),
        make_event(2, ts=1767225600, ip=" 192.0.2.9 "),
    ]
    assert ingest(events).json()["accepted"] == 3
    stored = dict(rows(db_session, "SELECT ip, ts FROM events"))
    assert stored == {"192.0.2.7": 1767225600.0, "2001:db8::1": 1767225600.0, "192.0.2.9": 1767225600.0}


def test_every_bad_record_is_listed_and_the_good_ones_are_stored(
    ingest: Callable[..., Any], db_session: Session
) -> None:
    good = [make_event(i) for i in range(3)]
    bad = [
        make_event(10, max_tokens="many"),  # wrong type
        {"account_id": "a", "ts": 1767225600},  # missing request_id
        make_event(11, ip="300.1.2.3"),  # bad IP
        make_event(12, ts="yesterday"),  # bad time
        make_event(13, ts="2026-01-01T00:00:00"),  # no UTC offset
        make_event(14, messages=[{"role": "wizard", "content": 3}]),
        make_event(15, stream="yes", temperature="hot", status=-1),
        "not an object",
    ]
    body = [good[0], *bad, good[1], good[2]]
    result = ingest(body).json()
    assert result["accepted"] == 3 and result["duplicates"] == 0
    by_index = {item["index"]: item for item in result["rejected"]}
    assert sorted(by_index) == list(range(1, 9))
    fields = {i: {e["field"] for e in item["errors"]} for i, item in by_index.items()}
    assert fields[1] == {"max_tokens"}
    assert fields[2] == {"request_id"}
    assert fields[3] == {"ip"} and by_index[3]["request_id"] == "req-0-11"
    assert fields[4] == fields[5] == {"ts"}
    assert fields[6] == {"messages[0].role", "messages[0].content"}
    assert fields[7] == {"stream", "temperature", "status"}
    assert fields[8] == {""}
    assert all(e["reason"] for item in result["rejected"] for e in item["errors"])
    assert count(db_session) == 3


def test_duplicates_within_and_across_batches_are_stored_once(ingest: Callable[..., Any], db_session: Session) -> None:
    events = [make_event(i) for i in range(5)]
    first = ingest([*events, events[0], events[1]]).json()
    assert (first["accepted"], first["duplicates"]) == (5, 2)
    retry = ingest([*events, make_event(5)]).json()  # a gateway retry with one new event
    assert (retry["accepted"], retry["duplicates"]) == (1, 5)
    assert count(db_session) == 6


def test_concurrent_identical_batches_store_each_event_once(
    settings: Any, client: TestClient, auth_headers: Headers, db_session: Session
) -> None:
    body = orjson.dumps([make_event(i) for i in range(400)])
    headers = auth_headers("ingest")
    results: list[Any] = []

    def send() -> None:
        results.append(client.post("/v1/events", content=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.status_code for r in results] == [200] * 4, [r.text for r in results]
    assert sum(r.json()["accepted"] for r in results) == 400
    assert sum(r.json()["duplicates"] for r in results) == 1200
    assert count(db_session) == 400


def test_accounts_seen_in_events_are_listed_without_metadata(ingest: Callable[..., Any], db_session: Session) -> None:
    ingest([make_event(i, account_id=f"acct-{i % 3}") for i in range(9)])
    ingest([make_event(20, account_id="acct-0")])
    assert rows(db_session, "SELECT account_id, has_metadata FROM accounts ORDER BY account_id") == [
        ("acct-0", False), ("acct-1", False), ("acct-2", False),
    ]  # fmt: skip


def test_empty_array_is_accepted(ingest: Callable[..., Any]) -> None:
    assert ingest([]).json() == {"accepted": 0, "duplicates": 0, "rejected": []}
    assert ingest(b"").json()["accepted"] == 0


def test_malformed_json_is_a_400_with_the_position(ingest: Callable[..., Any], db_session: Session) -> None:
    good = ndjson([make_event(0)])
    response = ingest(good + b'{"request_id": "x", "ts": }\n', **{"Content-Type": "application/x-ndjson"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["line"] == 2 and detail["position"] == len(good) + 26
    response = ingest(b'[{"request_id": "x"},, {}]')
    assert response.status_code == 400 and response.json()["detail"]["position"] == 21
    assert count(db_session) == 0  # a body that does not parse stores nothing


def test_truncated_gzip_is_a_400(ingest: Callable[..., Any]) -> None:
    packed = gzip.compress(ndjson([make_event(i) for i in range(50)]))
    response = ingest(packed[:-20], **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "truncated" in response.json()["error"]


def test_limits_give_413(settings: Any, auth_headers: Headers, db_session: Session) -> None:
    from app.main import create_app

    small = settings.model_copy(update={"max_body_bytes": 20_000, "max_decompressed_bytes": 60_000,
                                        "max_records_per_request": 5})  # fmt: skip
    headers = auth_headers("ingest")
    with TestClient(create_app(small), raise_server_exceptions=False) as client:
        too_many = client.post("/v1/events", content=orjson.dumps([make_event(i) for i in range(6)]), headers=headers)
        assert too_many.status_code == 413 and "5" in too_many.json()["error"]
        oversize = client.post("/v1/events", content=b" " * 20_001, headers=headers)
        assert oversize.status_code == 413
        bomb = gzip.compress(b" " * 1_000_000)
        inflated = client.post("/v1/events", content=bomb, headers={**headers, "Content-Encoding": "gzip"})
        assert inflated.status_code == 413
        assert client.post("/v1/events", content=orjson.dumps([make_event(0)]), headers=headers).status_code == 200
    assert count(db_session) == 1  # nothing of the refused bodies was kept


@pytest.mark.parametrize("retention", ["full", "hashed", "none"])
def test_retention_modes_keep_only_what_they_promise(
    retention: str, settings: Any, auth_headers: Headers, db_session: Session
) -> None:
    from app.main import create_app

    headers = auth_headers("ingest")
    prompt = "Articulate the reasoning behind your answer step by step: why is 17 a prime number?"
    event = make_event(0, messages=[{"role": "system", "content": "Be exact."}, {"role": "user", "content": prompt}])
    with TestClient(create_app(settings.model_copy(update={"prompt_retention": retention}))) as client:
        assert client.post("/v1/events", content=orjson.dumps([event]), headers=headers).json()["accepted"] == 1
    (row,) = rows(db_session, "SELECT prompt_text, system_text, text_hash, template_hash, token_hashes, cot_score, "
                              "prompt_chars FROM events")  # fmt: skip
    prompt_text, system_text, text_hash, template_hash, token_hashes, cot, chars = row
    assert cot > 0.8 and chars == len(prompt) + len("Be exact.")
    if retention == "full":
        assert (prompt_text, system_text) == (prompt, "Be exact.")
    else:
        assert prompt_text is None and system_text is None
    if retention == "none":
        assert text_hash is None and template_hash is None and token_hashes is None
    else:
        assert text_hash and template_hash and len(token_hashes.split()) > 5
        assert "reasoning" not in token_hashes


def test_secrets_are_scrubbed_before_storage(ingest: Callable[..., Any], db_session: Session) -> None:
    key = "sk-proj-" + "a1B2c3D4" * 4
    event = make_event(0, user_agent="curl/8 Bearer abcdefgh12345678",
                       messages=[{"role": "user", "content": f"my key is {key}, why does it fail?"}])  # fmt: skip
    assert ingest([event]).json()["accepted"] == 1
    (prompt_text, user_agent), = rows(db_session, "SELECT prompt_text, user_agent FROM events")  # fmt: skip
    assert key not in prompt_text and "[REDACTED]" in prompt_text
    assert "abcdefgh12345678" not in user_agent
    assert ingest([make_event(1, api_key_id=key)]).json()["accepted"] == 1
    (api_key_id,), = rows(db_session, "SELECT api_key_id FROM events WHERE request_id = 'req-0-1'")  # fmt: skip
    assert api_key_id == hashlib.sha256(key.encode()).hexdigest()


def test_ingest_needs_an_ingest_key(client: TestClient, auth_headers: Headers) -> None:
    assert client.post("/v1/events", content=b"[]").status_code == 401
    assert client.post("/v1/events", content=b"[]", headers=auth_headers("analyst")).status_code == 403


def test_large_requests_take_the_staging_path_with_the_same_results(
    ingest: Callable[..., Any], db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ingest import repository, service

    monkeypatch.setattr(repository, "FAST_PATH_ROWS", 7)
    monkeypatch.setattr(service, "WRITE_EVERY", 5)
    events = [make_event(i, seed=9) for i in range(23)]
    assert ingest(events[:4]).json()["accepted"] == 4  # small: the direct path
    result = ingest([*events, events[2]]).json()  # 24 rows in 5 writes, 4 of them already stored
    assert (result["accepted"], result["duplicates"]) == (19, 5)
    assert count(db_session) == 23
    assert count(db_session, "accounts") == len({e["account_id"] for e in events})


def test_a_refused_body_leaves_nothing_behind_even_after_partial_writes(
    settings: Any, auth_headers: Headers, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ingest import repository, service
    from app.main import create_app

    monkeypatch.setattr(repository, "FAST_PATH_ROWS", 3)
    monkeypatch.setattr(service, "WRITE_EVERY", 2)
    small = settings.model_copy(update={"max_records_per_request": 7})
    with TestClient(create_app(small), raise_server_exceptions=False) as client:
        body = orjson.dumps([make_event(i, seed=4) for i in range(8)])
        response = client.post("/v1/events", content=body, headers=auth_headers("ingest"))
    assert response.status_code == 413
    assert count(db_session) == 0 and count(db_session, "accounts") == 0
