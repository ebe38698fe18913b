"""Loading the detection window and the stored feature state.

PostgreSQL's COPY path gives exactly the frame the row-cursor path gives.

The COPY path parses PostgreSQL's CSV with Arrow, so what CSV makes hard must survive it: quotes, commas, line
breaks and backslashes inside values, empty strings (not NULL), NULLs of every type, non-ASCII text.
"""

from __future__ import annotations

import pickle
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.review import charts
from app.scoring import execution, loading, repository
from detectors import pipeline
from tests.scoring.conftest import events_sorted, ingest, population, run_detection

AWKWARD = [
    'say "hi", then stop',
    "line one\nline two\r\nline three",
    "back\\slash and a tab\t",
    "",
    "naïve café — 数学 🚀",
    ",,,",
    '"',
]


def _events() -> list[dict[str, Any]]:
    events = []
    for i, text in enumerate(AWKWARD * 3):
        event: dict[str, Any] = {
            "request_id": f"r-{i}", "account_id": f"acct,{i % 4}", "ts": 1_790_000_000 + 37 * i,
            "ip": "2001:db8::1" if i % 2 else "203.0.113.9", "user_agent": text or None, "model": "m",
            "tls_fingerprint": text, "end_user_id": text,
            "messages": [{"role": "system", "content": text}, {"role": "user", "content": f"{text} {i}"}]
            if i % 3 else [{"role": "user", "content": f"question {i}: {text}"}],
        }  # fmt: skip
        if i % 2:
            event.update(max_tokens=1000 + i, temperature=0.5, top_p=1.0, stream=bool(i % 4 == 1), n=1)
        events.append(event)
    return events


def test_awkward_values_and_window_bounds_survive_loading(sessions: sessionmaker[Session]) -> None:
    assert ingest(sessions, _events()) == len(AWKWARD) * 3
    with sessions() as session:
        frame = execution.load_events(session, after_id=0, up_to_id=10**12, min_ts=None)
        ids = sorted(frame["event_id"])
        min_ts = 1_790_000_000 + 37 * 6
        window = execution.load_events(session, after_id=ids[2], up_to_id=ids[15], min_ts=min_ts)
        nothing = execution.load_events(session, after_id=10**12, up_to_id=10**13, min_ts=None)
    assert set(frame["system_text"].dropna()) == {text for text in AWKWARD if text}
    assert set(frame["account_id"]) == {f"acct,{i}" for i in range(4)}
    assert set(frame["user_agent"].dropna()) == {text for text in AWKWARD if text}
    assert frame["user_agent"].isna().sum() == 3, "a missing user agent is NULL, not an empty string"
    assert frame["max_tokens"].isna().sum() == len(frame) - frame["stream"].notna().sum()
    expected = frame[(frame["event_id"] > ids[2]) & (frame["event_id"] <= ids[15])
                     & (frame["ts"] >= pd.Timestamp(min_ts, unit="s", tz="UTC"))]  # fmt: skip
    assert list(window["event_id"]) == sorted(expected["event_id"]) and len(window) > 0
    assert nothing.empty and list(nothing.columns) == list(frame.columns)
    pd.testing.assert_series_equal(nothing.dtypes, frame.dtypes)


def test_copy_and_cursor_paths_load_the_same_frame(sessions: sessionmaker[Session], database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the COPY path is PostgreSQL's; SQLite has only the cursor path")
    assert ingest(sessions, _events()) == len(AWKWARD) * 3
    with sessions() as session:
        copied = execution.load_events(session, after_id=0, up_to_id=10**12, min_ts=None)
        fetched = loading.load_events(session, after_id=0, up_to_id=10**12, min_ts=None,
                                      columns=execution.LOADED_COLUMNS, copy=False)  # fmt: skip
    pd.testing.assert_frame_equal(copied, fetched)


def test_feature_state_is_stored_compressed_and_the_console_reuses_its_topic_model(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    pop = population()
    ingest(sessions, events_sorted(pop), pop.accounts)
    assert run_detection(sessions, settings, "full").status == "done"
    charts.clear_cache()
    with sessions() as session:
        artifact = repository.get_artifact(session=session, name=execution.STATE_ARTIFACT)
        assert artifact is not None and bytes(artifact.payload[:4]) == pipeline.STATE_MAGIC
        state = pipeline.load_state(artifact.payload, ip_intel=None)
        raw = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        assert len(artifact.payload) < 0.8 * len(raw), "the stored state is compressed"
        legacy = pipeline.load_state(raw, ip_intel=None)  # what earlier versions stored: a plain pickle
        assert [type(e) for e in legacy.extractors] == [type(e) for e in state.extractors]
        version, model = charts._detection_topic_model(session)
    assert version is not None and model is not None, "the cluster page's topics are the ones detection scored"
    assert model.n_topics == pipeline.topic_model_of(state).n_topics  # type: ignore[union-attr]
