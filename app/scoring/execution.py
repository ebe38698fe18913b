"""Executing one detection run: load the window, run the pure pipeline, write every result in one transaction.

Incremental runs start from the last finished run's feature state (stored as a detection artifact) and add only
the events ingested since (``id`` above its watermark): the per-event work of feature extraction is done once per
event.  Linking and scoring are global and run over the whole window every time; a worker process keeps the
window's event frame (and the events' topics) in memory between runs so that an incremental run reads only the
new rows from the database.  A full run rebuilds everything from the database, refitting the topic model.

Nothing is written until the end: the account scores, account states, clusters, members, history, the feature
state and the run's status change in one transaction, so readers see the previous run's results or this one's.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.scoring import persist, repository
from app.scoring.models import DetectionArtifact
from detectors import pipeline
from detectors.events import ACCOUNT_COLUMNS, EVENT_COLUMNS, account_frame, coerce_event_frame
from detectors.features import FeatureState
from detectors.ipintel import IPIntel
from detectors.scoring.decision import Thresholds
from detectors.scoring.supervised import SupervisedRiskModel

log = logging.getLogger(__name__)

STATE_ARTIFACT = "feature_state"
STATE_FORMAT = 1
# event columns no detector reads: never loaded (prompt texts are the bulk of the table)
UNREAD_COLUMNS = frozenset({"request_id", "prompt_text", "system_text"})
LOADED_COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in UNREAD_COLUMNS)

Progress = Callable[[str, float], None]


class RunAborted(RuntimeError):
    """The run was marked failed (e.g. by stale-run recovery) while it computed: its results are discarded."""


@dataclass
class _Window:
    """A worker's in-memory copy of the detection window, valid for the run that produced ``run_id``."""

    database_url: str
    run_id: str
    up_to_id: int
    events: pd.DataFrame  # event frame + event_id
    topics: pd.Series
    state: FeatureState


_window_lock = threading.Lock()
_window: _Window | None = None
_intel_cache: dict[str, IPIntel] = {}


def ip_intel(settings: Settings) -> IPIntel | None:
    if settings.ipdata_dir is None:
        return None
    key = str(Path(settings.ipdata_dir).resolve())
    if key not in _intel_cache:
        _intel_cache[key] = IPIntel.from_directory(Path(settings.ipdata_dir))
    return _intel_cache[key]


def forget_window() -> None:
    """Drop the in-memory window (tests use it to force the database path)."""
    global _window
    with _window_lock:
        _window = None


# ---- loading ---------------------------------------------------------------------------------------------------
def load_events(session: Session, *, after_id: int, up_to_id: int, min_ts: float | None) -> pd.DataFrame:
    names, rows = repository.event_rows(
        session=session, columns=LOADED_COLUMNS, min_ts=min_ts, after_id=after_id, up_to_id=up_to_id
    )
    raw = pd.DataFrame.from_records(rows, columns=names)
    event_id = raw["id"].to_numpy(dtype=np.int64) if len(raw) else np.zeros(0, dtype=np.int64)
    # epoch seconds as stored; rounded to microseconds so that float noise does not show in timestamps
    micros = np.round(raw["ts"].to_numpy(dtype="float64") * 1e6).astype("int64")
    raw["ts"] = pd.to_datetime(micros, unit="us", utc=True)
    frame = coerce_event_frame(raw)
    frame["event_id"] = event_id
    return frame


def load_accounts(session: Session) -> pd.DataFrame:
    columns = list(ACCOUNT_COLUMNS)
    rows = repository.account_rows(session=session, columns=columns)
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    for record in records:
        created = record.get("created_at")
        if isinstance(created, datetime):
            record["created_at"] = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
    return account_frame(records)


def _trim(frame: pd.DataFrame, topics: pd.Series, start_ns: int | None) -> tuple[pd.DataFrame, pd.Series]:
    if start_ns is None or frame.empty:
        return frame.reset_index(drop=True), topics.reset_index(drop=True)
    keep = frame["ts"].array.asi8 >= start_ns
    return frame[keep].reset_index(drop=True), topics[keep].reset_index(drop=True)


def _topics(state: FeatureState, frame: pd.DataFrame) -> pd.Series:
    model = pipeline.topic_model_of(state)
    if model is None or frame.empty:
        return pd.Series(-1, index=frame.index, dtype="int64")
    return model.transform_events(frame).reindex(frame.index).fillna(-1).astype("int64")


@dataclass
class _Inputs:
    mode: str
    reason: str
    window: _Window
    accounts: pd.DataFrame
    new_events: int
    changed_accounts: list[str]


def _prepare_inputs(
    session: Session, *, settings: Settings, run_id: str, requested_mode: str, progress: Progress
) -> _Inputs:
    """The window's events, topics and updated feature state, from memory when possible."""
    global _window
    window_days = settings.detection_window_days
    up_to = repository.max_event_id(session=session)
    newest = repository.newest_event_ts(session=session)
    start_ns = pipeline.window_start_ns(int(newest * 1e9), window_days) if newest is not None else None
    min_ts = start_ns / 1e9 if start_ns is not None else None
    intel = ip_intel(settings)
    accounts = load_accounts(session)

    previous = repository.get_artifact(session=session, name=STATE_ARTIFACT) if requested_mode == "incremental" \
        else None  # fmt: skip
    cached = _window
    if previous is not None:
        meta = pickle.loads(previous.payload)
        if meta.get("format") == STATE_FORMAT:
            if (cached is None or cached.run_id != previous.run_id
                    or cached.database_url != settings.database_url):  # fmt: skip
                progress("loading window", 0.02)
                state = pipeline.load_state(meta["state"], ip_intel=intel)
                frame = load_events(session, after_id=0, up_to_id=int(meta["up_to_id"]), min_ts=min_ts)
                cached = _Window(settings.database_url, previous.run_id, int(meta["up_to_id"]), frame,
                                 _topics(state, frame), state)  # fmt: skip
            progress("loading new events", 0.1)
            new = load_events(session, after_id=cached.up_to_id, up_to_id=up_to, min_ts=None)
            progress("features", 0.15)
            state = pipeline.update_feature_state(cached.state, new, window_days=window_days)
            frame = pd.concat([cached.events, new], ignore_index=True) if len(new) else cached.events
            topics = pd.concat([cached.topics, _topics(state, new)], ignore_index=True) if len(new) \
                else cached.topics  # fmt: skip
            frame, topics = _trim(frame, topics, start_ns)
            changed = sorted(set(new["account_id"].dropna().astype(str))) if len(new) else []
            window = _Window(settings.database_url, run_id, up_to, frame, topics, state)
            return _Inputs("incremental", "", window, accounts, len(new), changed)
        reason = "stored feature state has an older format"
    else:
        reason = "full run requested" if requested_mode == "full" else "no previous feature state"

    progress("loading events", 0.02)
    frame = load_events(session, after_id=0, up_to_id=up_to, min_ts=min_ts)
    progress("features", 0.15)
    state = pipeline.build_feature_state(frame, accounts, ip_intel=intel, window_days=window_days)
    topics = _topics(state, frame)
    window = _Window(settings.database_url, run_id, up_to, frame, topics, state)
    changed = sorted(set(frame["account_id"].dropna().astype(str)))
    return _Inputs("full", reason, window, accounts, len(frame), changed)


def _models(session: Session) -> tuple[tuple[str, SupervisedRiskModel] | None, tuple[str, SupervisedRiskModel] | None]:
    def load(status: str) -> tuple[str, SupervisedRiskModel] | None:
        row = repository.model_with_status(session=session, status=status)
        if row is None or row.kind != "supervised" or row.artifact is None:
            return None
        model = pickle.loads(row.artifact)
        return (row.version, model) if isinstance(model, SupervisedRiskModel) else None

    return load("active"), load("shadow")


# ---- the run ---------------------------------------------------------------------------------------------------
def execute_run(
    *, sessions: sessionmaker[Session], run_id: str, settings: Settings, progress: Progress | None = None
) -> dict[str, Any]:
    """Compute run ``run_id`` (already claimed: status running) and commit its results; its stats."""
    global _window
    report = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with _window_lock:
        with sessions() as session:
            run = repository.get_run(session=session, run_id=run_id)
            if run is None:
                raise RunAborted(f"run {run_id} does not exist")
            inputs = _prepare_inputs(session, settings=settings, run_id=run_id, requested_mode=run.mode,
                                     progress=report)  # fmt: skip
            timings["load_and_features"] = time.perf_counter() - started
            previous = repository.active_memberships(session=session)
            known = {c.cluster_id: c for c in repository.all_clusters(session=session)}
            active_model, shadow_model = _models(session)
        window = inputs.window
        tic = time.perf_counter()
        features = window.state.features(inputs.accounts, window_days=settings.detection_window_days)
        timings["finalize_features"] = time.perf_counter() - tic
        config = pipeline.PipelineConfig(
            window_days=settings.detection_window_days,
            thresholds=Thresholds(account=settings.account_flag_threshold, cluster=settings.cluster_flag_threshold),
        )
        tic = time.perf_counter()
        events = window.events.drop(columns=["event_id"])
        detection = pipeline.detect(
            events, inputs.accounts, features, topics=window.topics, previous_clusters=previous,
            cluster_status={cid: c.status for cid, c in known.items()},
            decided_sizes={cid: c.size_at_decision for cid, c in known.items() if c.size_at_decision is not None},
            supervised=active_model, shadow=shadow_model[1] if shadow_model else None, config=config,
            progress=lambda stage, fraction: report(stage, 0.3 + 0.6 * fraction),
        )  # fmt: skip
        timings["link_and_score"] = time.perf_counter() - tic
        stats: dict[str, Any] = {
            "mode": inputs.mode,
            "requested_mode": run.mode,
            **({"full_because": inputs.reason} if inputs.mode == "full" and run.mode == "incremental" else {}),
            "max_event_id": window.up_to_id,
            "events_in_window": len(window.events),
            "events_processed": inputs.new_events,
            "accounts_refeaturised": len(inputs.changed_accounts),
            "window_start": window.events["ts"].min().isoformat() if len(window.events) else None,
            "window_end": window.events["ts"].max().isoformat() if len(window.events) else None,
            **detection.stats,
            "shadow_model": shadow_model[0] if shadow_model else None,
        }
        report("writing", 0.92)
        tic = time.perf_counter()
        last_ids = window.events.groupby("account_id", observed=True)["event_id"].max() if len(window.events) \
            else pd.Series(dtype="int64")  # fmt: skip
        changed = inputs.changed_accounts if inputs.mode == "incremental" else list(last_ids.index.astype(str))
        now = datetime.now(UTC)
        with sessions.begin() as session:
            persist.write_results(
                session=session, run_id=run_id, detection=detection, now=now,
                full=inputs.mode == "full", changed_accounts=changed, last_event_ids=last_ids, settings=settings,
            )  # fmt: skip
            payload = pickle.dumps(
                {"format": STATE_FORMAT, "up_to_id": window.up_to_id, "state": pipeline.dump_state(window.state)},
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            repository.put_artifact(session=session, artifact=DetectionArtifact(
                name=STATE_ARTIFACT, run_id=run_id, payload=payload, updated_at=now))  # fmt: skip
            timings["write"] = time.perf_counter() - tic
            timings["total"] = time.perf_counter() - started
            stats["seconds"] = {name: round(value, 3) for name, value in timings.items()}
            stats["state_bytes"] = len(payload)
            if not repository.finish_run(session=session, run_id=run_id, status="done", now=datetime.now(UTC),
                                         stats=stats, model_version=detection.model_version):  # fmt: skip
                raise RunAborted(f"run {run_id} is no longer running (marked failed meanwhile); results discarded")
        _window = window
    report("done", 1.0)
    log.info("detection run finished", extra={"run_id": run_id, "mode": inputs.mode,
                                              "seconds": round(timings["total"], 2)})  # fmt: skip
    return stats
