"""Executing one detection run: load the window, run the pure pipeline, write every result in one transaction.

Incremental runs start from the last finished run's feature state (stored as a detection artifact) and add only
the events ingested since (``id`` above its watermark): the per-event work of feature extraction is done once per
event.  Linking and scoring are global and run over the whole window every time; a worker process keeps the
window's event frame (and the events' topics and linking's encodings) in memory between runs so that an
incremental run reads only the new rows from the database.  A full run rebuilds everything from the database,
refitting the topic model.  Linking reads no features, so it runs on a second thread while the features are
updated and finalised and the risk model is fitted (:func:`_features_and_linking`).

Nothing is written until the end: the account scores, account states, clusters, members, history, the feature
state and the run's status change in one transaction, so readers see the previous run's results or this one's.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.scoring import loading, persist, repository
from app.scoring.models import DetectionArtifact
from detectors import pipeline
from detectors.events import EVENT_COLUMNS
from detectors.features import FeatureState
from detectors.features.state import Reuse
from detectors.ipintel import IPIntel
from detectors.linking import Linking
from detectors.linking.config import LinkingConfig
from detectors.linking.cores import Cores
from detectors.linking.encoding import EventCodes, encode_events
from detectors.scoring.decision import Thresholds
from detectors.scoring.supervised import SupervisedRiskModel

log = logging.getLogger(__name__)

STATE_ARTIFACT = "feature_state"
STATE_META = "feature_state_meta"
STATE_FORMAT = 3  # 3: end-user features (end_user_id loaded)
# The stored feature state may lag the last run: a worker starting cold replays the events since its watermark
# (exactly what an incremental run does anyway).  Rewriting ~200 MB every run would cost more than the run.
STATE_MAX_LAG_SHARE = 0.2
STATE_MAX_RUNS = 12
# event columns no detector reads (with the default tfidf topic backend): never loaded, null in the frame.
# Prompt texts are the bulk of the table; the rest cost a string conversion per row.  The request parameters and
# the system prompt are read: linking's request-shape and wrapper kinds fingerprint a harness by them.
UNREAD_COLUMNS = frozenset({
    "request_id", "prompt_text", "api_key_id", "org_id", "conversation_id", "latency_ms", "prompt_chars",
})  # fmt: skip
LOADED_COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in UNREAD_COLUMNS)

Progress = Callable[[str, float], None]


class RunAborted(RuntimeError):
    """The run was marked failed (e.g. by stale-run recovery) while it computed: its results are discarded."""


@dataclass
class _Window:
    """A worker's in-memory copy of the detection window.

    Valid while the stored state has the same ``lineage`` (the full run that fitted its topic model): the state
    is then a pure function of the events up to ``up_to_id``, whoever computed it.
    """

    database_url: str
    lineage: str
    up_to_id: int
    events: pd.DataFrame  # event frame + event_id
    topics: pd.Series
    state: FeatureState
    codes: EventCodes  # linking's per-event encodings, row for row with ``events``
    stored_up_to_id: int = 0  # watermark of the stored state artifact
    runs_since_stored: int = 0
    written: dict[str, tuple[Any, ...]] | None = None  # score rows this worker last wrote, to skip unchanged ones
    written_by: str | None = None  # the run that wrote them: only valid while it is the last finished run
    # the features the last run scored (up to ``up_to_id``): an incremental run takes each unchanged account's own
    # features from them (FeatureState.features(reuse=…)); None when the window has moved on since
    features: pd.DataFrame | None = None


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


# ---- loading ----------------------------------------------------------------------------------------------------
def load_events(session: Session, *, after_id: int, up_to_id: int, min_ts: float | None) -> pd.DataFrame:
    return loading.load_events(session, after_id=after_id, up_to_id=up_to_id, min_ts=min_ts, columns=LOADED_COLUMNS)


def load_accounts(session: Session) -> pd.DataFrame:
    return loading.load_accounts(session)


def _trim(
    frame: pd.DataFrame, topics: pd.Series, codes: EventCodes, start_ns: int | None
) -> tuple[pd.DataFrame, pd.Series, EventCodes]:
    if start_ns is None or frame.empty:
        return frame.reset_index(drop=True), topics.reset_index(drop=True), codes
    keep = frame["ts"].array.asi8 >= start_ns
    if keep.all():
        return frame.reset_index(drop=True), topics.reset_index(drop=True), codes
    return frame[keep].reset_index(drop=True), topics[keep].reset_index(drop=True), codes.take(keep)


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
    timings: dict[str, float]  # seconds of the parts of loading and featurising
    pending: pd.DataFrame | None = None  # new events not yet added to ``window.state``


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

    meta = _stored_meta(session) if requested_mode == "incremental" else None
    cached = _window
    if meta is not None and meta.get("format") == STATE_FORMAT:
        if cached is None or cached.lineage != meta["lineage"] or cached.database_url != settings.database_url:
            progress("loading window", 0.02)
            artifact = repository.get_artifact(session=session, name=STATE_ARTIFACT)
            assert artifact is not None, "feature state metadata without the state"
            state = pipeline.load_state(artifact.payload, ip_intel=intel)
            frame = load_events(session, after_id=0, up_to_id=int(meta["up_to_id"]), min_ts=min_ts)
            cached = _Window(settings.database_url, str(meta["lineage"]), int(meta["up_to_id"]), frame,
                             _topics(state, frame), state, _codes(frame),
                             stored_up_to_id=int(meta["up_to_id"]))  # fmt: skip
        progress("loading new events", 0.1)
        tic = time.perf_counter()
        new = load_events(session, after_id=cached.up_to_id, up_to_id=up_to, min_ts=None)
        parts = {"load_new_events": time.perf_counter() - tic}
        # the state is updated by the caller, while linking runs: the window needs only its topic model, which an
        # update keeps
        state = cached.state
        frame = pd.concat([cached.events, new], ignore_index=True) if len(new) else cached.events
        topics = pd.concat([cached.topics, _topics(state, new)], ignore_index=True) if len(new) \
            else cached.topics  # fmt: skip
        codes = EventCodes.concat([cached.codes, _codes(new, cached.codes)]) if len(new) else cached.codes
        # the old copy of the window goes now, not when this run finishes: a run that fails from here on leaves no
        # window in memory, and the next run reloads it from the database
        _window = None
        before_trim = len(frame)
        frame, topics, codes = _trim(frame, topics, codes, start_ns)
        moved_on = len(frame) < before_trim  # events left the window: their accounts changed too
        parts["window_topics_encodings"] = time.perf_counter() - tic - sum(parts.values())
        changed = sorted(new["account_id"].dropna().astype(str).unique().tolist()) if len(new) else []
        last = repository.last_finished_run(session=session)
        written = cached.written if last is not None and last.id == cached.written_by else None
        window = _Window(settings.database_url, cached.lineage, up_to, frame, topics, state, codes,
                         stored_up_to_id=max(cached.stored_up_to_id, int(meta["up_to_id"])),
                         runs_since_stored=cached.runs_since_stored + 1, written=written,
                         features=None if moved_on else cached.features)  # fmt: skip
        return _Inputs("incremental", "", window, accounts, len(new), changed, parts, pending=new)
    if meta is not None:
        reason = "stored feature state has an older format"
    else:
        reason = "full run requested" if requested_mode == "full" else "no previous feature state"

    progress("loading events", 0.02)
    tic = time.perf_counter()
    frame = load_events(session, after_id=0, up_to_id=up_to, min_ts=min_ts)
    parts = {"load_events": time.perf_counter() - tic}
    progress("features", 0.15)
    state = pipeline.build_feature_state(frame, accounts, ip_intel=intel, window_days=window_days)
    parts["build_features"] = time.perf_counter() - tic - parts["load_events"]
    topics = _topics(state, frame)
    window = _Window(settings.database_url, run_id, up_to, frame, topics, state, _codes(frame))
    parts["window_topics_encodings"] = time.perf_counter() - tic - sum(parts.values())
    changed = sorted(set(frame["account_id"].dropna().astype(str)))
    return _Inputs("full", reason, window, accounts, len(frame), changed, parts)


def _codes(frame: pd.DataFrame, previous: EventCodes | None = None) -> EventCodes:
    """Linking's encodings of the events of ``frame`` (under the settings detection links with)."""
    return encode_events(frame, LinkingConfig(), known_subnets=previous.subnets if previous is not None else None)


def _stored_meta(session: Session) -> dict[str, Any] | None:
    row = repository.get_artifact(session=session, name=STATE_META)
    return orjson.loads(row.payload) if row is not None else None


def _store_state_now(inputs: _Inputs) -> bool:
    window = inputs.window
    lag = window.up_to_id - window.stored_up_to_id
    return (inputs.mode == "full" or window.runs_since_stored >= STATE_MAX_RUNS
            or lag > STATE_MAX_LAG_SHARE * max(len(window.events), 1))  # fmt: skip


def _models(session: Session) -> tuple[tuple[str, SupervisedRiskModel] | None, tuple[str, SupervisedRiskModel] | None]:
    def load(status: str) -> tuple[str, SupervisedRiskModel] | None:
        row = repository.model_with_status(session=session, status=status)
        if row is None or row.kind != "supervised" or row.artifact is None:
            return None
        model = pickle.loads(row.artifact)
        return (row.version, model) if isinstance(model, SupervisedRiskModel) else None

    return load("active"), load("shadow")


# ---- the run ---------------------------------------------------------------------------------------------------
def _features_and_linking(
    inputs: _Inputs, events: pd.DataFrame, config: pipeline.PipelineConfig, timings: dict[str, float],
    report: Progress,
) -> tuple[pd.DataFrame, pipeline.PreparedScoring, Linking]:  # fmt: skip
    """The window's features (and the part of scoring that needs no linking) and its linking, computed at once on
    two threads: linking reads the events, topics and encodings, never the features, and both spend most of their
    time in numpy and pandas, which release the GIL.  Linking gets the second core too once the features are done
    (:class:`~detectors.linking.cores.Cores`)."""
    window = inputs.window
    # linking computes on one core while the other computes the features, and on both once they are done: two
    # linking threads beside the features only competed with them (measured) and held ~0.7 GB more at the peak
    cores = Cores(1)

    def link() -> tuple[Linking, float]:
        tic = time.perf_counter()
        linking = pipeline.link(events, inputs.accounts, topics=window.topics, codes=window.codes, config=config,
                                cores=cores)  # fmt: skip
        return linking, time.perf_counter() - tic

    report("linking and features", 0.3)
    tic = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detection-linking") as pool:
        linked = pool.submit(link)
        try:
            earlier = window.state
            if inputs.pending is not None:  # add the new events (and evict the days the window left)
                window.state = pipeline.update_feature_state(window.state, inputs.pending,
                                                             window_days=config.window_days)  # fmt: skip
                timings["update_features"] = time.perf_counter() - tic
            reuse = _reuse(inputs, earlier, config.window_days)
            finalize = time.perf_counter()
            features = window.state.features(inputs.accounts, window_days=config.window_days, reuse=reuse)
            timings["finalize_features"] = time.perf_counter() - finalize
            prepare = time.perf_counter()
            prepared = pipeline.prepare_scoring(events, features, topics=window.topics)
            timings["prepare_scoring"] = time.perf_counter() - prepare
            window.features = prepared.features
        finally:
            cores.lend()  # this thread is done (or failed): linking may compute on both cores
        linking, timings["linking"] = linked.result()
    timings["features_and_linking"] = time.perf_counter() - tic
    return features, prepared, linking


def _reuse(inputs: _Inputs, earlier: FeatureState, window_days: float | None) -> Reuse | None:
    """What an incremental run may take from the last run's features: each own feature of the accounts without new
    events, as long as no event left the window since (the frame's or the state's)."""
    window = inputs.window
    if inputs.mode != "incremental" or window.features is None:
        return None
    if earlier.cutoff_day(window_days) != window.state.cutoff_day(window_days):
        return None
    return Reuse(window.features, frozenset(inputs.changed_accounts))


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
            timings.update({f"load_and_features.{name}": value for name, value in inputs.timings.items()})
            previous = repository.active_memberships(session=session)
            known = {c.cluster_id: c for c in repository.all_clusters(session=session)}
            active_model, shadow_model = _models(session)
        window = inputs.window
        config = pipeline.PipelineConfig(
            window_days=settings.detection_window_days,
            thresholds=Thresholds(account=settings.account_flag_threshold, cluster=settings.cluster_flag_threshold),
        )
        events = window.events.drop(columns=["event_id"])
        features, prepared, linking = _features_and_linking(inputs, events, config, timings, report)
        tic = time.perf_counter()
        detection = pipeline.detect(
            events, inputs.accounts, features, topics=window.topics, codes=window.codes, linking=linking,
            prepared=prepared, previous_clusters=previous, cluster_status={cid: c.status for cid, c in known.items()},
            decided_sizes={cid: c.size_at_decision for cid, c in known.items() if c.size_at_decision is not None},
            supervised=active_model, shadow=shadow_model[1] if shadow_model else None, config=config,
            progress=lambda stage, fraction: report(stage, 0.75 + 0.15 * fraction),
        )  # fmt: skip
        timings["score"] = time.perf_counter() - tic
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
        # an account's last event: among the new events for an incremental run's changed accounts (new ids are above
        # every id in the window), else among the window's
        source = inputs.pending if inputs.mode == "incremental" and inputs.pending is not None else window.events
        last_ids = source.groupby("account_id", observed=True)["event_id"].max() if len(source) \
            else pd.Series(dtype="int64")  # fmt: skip
        changed = inputs.changed_accounts if inputs.mode == "incremental" else list(last_ids.index.astype(str))
        now = datetime.now(UTC)
        with sessions.begin() as session:
            window.written = persist.write_results(
                session=session, run_id=run_id, detection=detection, now=now, full=inputs.mode == "full",
                changed_accounts=changed, last_event_ids=last_ids, settings=settings, previous_rows=window.written,
            )  # fmt: skip
            window.written_by = run_id
            if _store_state_now(inputs):
                payload = pipeline.dump_state(window.state)
                meta = {"format": STATE_FORMAT, "up_to_id": window.up_to_id, "lineage": window.lineage}
                repository.put_artifact(session=session, artifact=DetectionArtifact(
                    name=STATE_ARTIFACT, run_id=run_id, payload=payload, updated_at=now))  # fmt: skip
                repository.put_artifact(session=session, artifact=DetectionArtifact(
                    name=STATE_META, run_id=run_id, payload=orjson.dumps(meta), updated_at=now))  # fmt: skip
                window.stored_up_to_id, window.runs_since_stored = window.up_to_id, 0
                stats["state_bytes"] = len(payload)
            timings["write"] = time.perf_counter() - tic
            timings["total"] = time.perf_counter() - started
            stats["seconds"] = {name: round(value, 3) for name, value in timings.items()}
            if not repository.finish_run(session=session, run_id=run_id, status="done", now=datetime.now(UTC),
                                         stats=stats, model_version=detection.model_version):  # fmt: skip
                raise RunAborted(f"run {run_id} is no longer running (marked failed meanwhile); results discarded")
        _window = window
    report("done", 1.0)
    log.info("detection run finished", extra={"run_id": run_id, "mode": inputs.mode,
                                              "seconds": round(timings["total"], 2)})  # fmt: skip
    return stats
