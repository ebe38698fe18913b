"""One detection pass, pure: features → linking → scores → stable cluster ids → decisions → reasons.

Two stages, so the service can run them incrementally:

* :func:`build_feature_state` / :func:`update_feature_state` — the per-account mergeable feature state
  (:class:`detectors.features.FeatureState`) with its fitted population pieces (topic model).  A full run builds
  it from every event of the window and refits the topic model; an incremental run adds only the new events to
  the previous state, reusing its topic model.
* :func:`detect` — everything downstream of the features over the whole window: linking is global but cheap,
  and the population statistics of the scoring model are recomputed from all accounts' features every run, so an
  incremental run scores exactly like a full run that used the same topic model.

:func:`run` chains both for one-shot use (tests, benchmarks, ``bench/quality.py``).  "Now" is always the newest
event's timestamp, never the wall clock.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detectors.base import prepare_events
from detectors.features import FeatureState, fit_extractors
from detectors.features.coverage import CoverageFeatures
from detectors.features.infrastructure import InfrastructureFeatures
from detectors.features.topics import TopicModel
from detectors.ipintel import IPIntel
from detectors.linking import ClusterMatching, Linking, LinkingConfig, link_accounts, match_clusters
from detectors.linking.cores import Cores
from detectors.linking.encoding import EventCodes
from detectors.scoring.coverage import FEATURE as COVERAGE_FEATURE
from detectors.scoring.coverage import topic_coverage_ratio
from detectors.scoring.decision import EXEMPT_STATUSES, Thresholds, flag_accounts, flag_clusters, reopened
from detectors.scoring.explain import account_reasons, cluster_reasons
from detectors.scoring.model import OwnTerms, RiskModel, Scores
from detectors.scoring.replay import FEATURE as REPLAY_FEATURE
from detectors.scoring.replay import suite_replay_share
from detectors.scoring.supervised import SupervisedRiskModel, model_inputs

DAY_NS = 86_400 * 10**9
Progress = Callable[[str, float], None]


def _no_progress(stage: str, fraction: float) -> None:
    return None


@dataclass(frozen=True)
class PipelineConfig:
    window_days: float | None = 30.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    linking: LinkingConfig | None = None
    min_cluster_size: int = 2


# ---- stage 1: features ----------------------------------------------------------------------------------------
def window_start_ns(newest_ns: int, window_days: float | None) -> int | None:
    """First timestamp of the detection window: the UTC day containing ``newest - window`` (the feature state
    windows at day resolution, so loading from there gives a full run exactly the incremental state's data)."""
    if window_days is None:
        return None
    return ((newest_ns - int(window_days * DAY_NS)) // DAY_NS) * DAY_NS


def build_feature_state(
    events: pd.DataFrame, accounts: pd.DataFrame | None, *, ip_intel: IPIntel | None = None,
    topic_model: TopicModel | None = None, window_days: float | None = None,
) -> FeatureState:  # fmt: skip
    """A fresh state from every event of the window (fits the topic model unless a fitted one is given)."""
    frame = prepare_events(events)
    extractors = fit_extractors(frame, accounts, ip_intel=ip_intel, topic_model=topic_model)
    state = FeatureState.start(extractors=extractors).update(frame)
    return state.evict(keep_days=window_days) if window_days is not None else state


def update_feature_state(state: FeatureState, new_events: pd.DataFrame, *, window_days: float | None) -> FeatureState:
    """Add events never seen before; days that fell out of the window are dropped for good."""
    state = state.update(new_events)
    return state.evict(keep_days=window_days) if window_days is not None else state


def topic_model_of(state: FeatureState) -> TopicModel | None:
    for extractor in state.extractors:
        if isinstance(extractor, CoverageFeatures) and hasattr(extractor, "topic_model_"):
            model: TopicModel = extractor.topic_model_
            return model
    return None


STATE_MAGIC = b"DGS1"  # a compressed state: magic, the pickle's size (8 bytes, little-endian), its LZ4 frame


def dump_state(state: FeatureState) -> bytes:
    """Pickle a feature state without its IP intelligence (large, and reloaded from the configured directory),
    compressed with LZ4: ~180 MB of pickle become ~80 MB in ~0.15 s, which the database then writes (and its
    write-ahead log logs) in half the time."""
    extractors = []
    for extractor in state.extractors:
        if isinstance(extractor, InfrastructureFeatures):
            extractor = _copy_with(extractor, ip_intel=None, ip_intel_=None)
        extractors.append(extractor)
    raw = pickle.dumps(replace(state, extractors=tuple(extractors)), protocol=pickle.HIGHEST_PROTOCOL)
    packed: bytes = pa.compress(raw, codec="lz4", asbytes=True)
    return STATE_MAGIC + len(raw).to_bytes(8, "little") + packed


def load_state(payload: bytes, *, ip_intel: IPIntel | None) -> FeatureState:
    """A state from :func:`dump_state` (or an uncompressed pickle, as earlier versions stored it)."""
    payload = bytes(payload)
    if payload[:4] == STATE_MAGIC:
        size = int.from_bytes(payload[4:12], "little")
        payload = pa.decompress(payload[12:], decompressed_size=size, codec="lz4", asbytes=True)
    state = pickle.loads(payload)
    if not isinstance(state, FeatureState):
        raise TypeError("the stored detection state is not a FeatureState")
    intel = ip_intel if ip_intel is not None else IPIntel.empty()
    extractors = [
        _copy_with(e, ip_intel=ip_intel, ip_intel_=intel) if isinstance(e, InfrastructureFeatures) else e
        for e in state.extractors
    ]
    return replace(state, extractors=tuple(extractors))


def _copy_with(extractor: Any, **attributes: Any) -> Any:
    copy = object.__new__(type(extractor))
    copy.__dict__.update(extractor.__dict__)
    copy.__dict__.update(attributes)
    return copy


# ---- stage 2: detection ---------------------------------------------------------------------------------------
@dataclass
class Detection:
    """``accounts`` (index account_id): risk_score, own_score, flagged, flag_source, cluster_id, shadow_score,
    scored_by; ``clusters`` (index cluster_id): label, score, flagged, benign, size, status, reopened, first_seen,
    last_seen; ``members``: cluster_id → account ids; reasons and evidence keyed by account / cluster id."""

    accounts: pd.DataFrame
    reasons: dict[str, list[dict[str, Any]]]
    inputs: pd.DataFrame
    clusters: pd.DataFrame
    members: dict[str, list[str]]
    cluster_reasons: dict[str, list[dict[str, Any]]]
    evidence: dict[str, list[dict[str, Any]]]
    cluster_features: dict[str, dict[str, Any]]
    matching: ClusterMatching
    scores: Scores
    linking: Linking
    model_version: str
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedScoring:
    """The features scoring reads (the account features plus those derived from the window's events) and the
    risk model fitted on them, and the terms each account's own features give: the part of scoring that needs no
    linking."""

    features: pd.DataFrame
    model: RiskModel
    own: OwnTerms


def prepare_scoring(events: pd.DataFrame, features: pd.DataFrame, *, topics: pd.Series | None) -> PreparedScoring:
    if topics is not None and len(events):
        features = features.assign(**{COVERAGE_FEATURE: topic_coverage_ratio(events["account_id"], topics,
                                                                             features.index)})  # fmt: skip
    if len(events):
        features = features.assign(**{REPLAY_FEATURE: suite_replay_share(events, features.index)})
    model = RiskModel().fit(features)
    return PreparedScoring(features, model, model.own(features, fitted=True))


def detect(
    events: pd.DataFrame,
    accounts: pd.DataFrame | None,
    features: pd.DataFrame,
    *,
    topics: pd.Series | None = None,
    codes: EventCodes | None = None,
    linking: Linking | None = None,
    prepared: PreparedScoring | None = None,
    previous_clusters: Mapping[str, set[str]] | None = None,
    cluster_status: Mapping[str, str] | None = None,
    decided_sizes: Mapping[str, int] | None = None,
    supervised: tuple[str, SupervisedRiskModel] | None = None,
    shadow: SupervisedRiskModel | None = None,
    config: PipelineConfig | None = None,
    progress: Progress = _no_progress,
) -> Detection:
    """Score ``features`` (one row per account in the window) and link ``events`` into clusters.

    ``codes``: linking's per-event encodings of ``events``, row for row, when the caller keeps them between
    runs (:mod:`detectors.linking.encoding`); ``linking`` and ``prepared``: what :func:`link` and
    :func:`prepare_scoring` give for these events and features, when the caller computed them already (at once, on
    two threads, say: neither reads the other); ``previous_clusters``/``cluster_status``/``decided_sizes``
    describe the last run's clusters by id (for stable ids and review outcomes); ``supervised`` is (version,
    model) when a trained model is active; ``shadow`` is scored alongside without affecting anything.
    """
    config = config or PipelineConfig()
    if prepared is None:
        prepared = prepare_scoring(events, features, topics=topics)
    elif not prepared.features.index.equals(features.index):
        raise ValueError("prepared scoring inputs are for other accounts than features")
    features, model = prepared.features, prepared.model
    if linking is None:
        progress("linking", 0.1)
        linking = link(events, accounts, topics=topics, codes=codes, config=config)
    progress("scoring", 0.7)
    groups = multi_account_clusters(linking, config.min_cluster_size)
    current: dict[Hashable, set[str]] = {label: members for label, members in groups.items()}
    matching = match_clusters(previous_clusters or {}, current)
    ids = {str(label): cluster_id for label, cluster_id in matching.ids.items()}
    status = _statuses(matching, groups, cluster_status or {}, decided_sizes or {}, previous_clusters or {})
    exempt = [label for label, cluster_id in ids.items() if status[cluster_id][0] in EXEMPT_STATUSES]

    cluster_of = linking.clusters["cluster_label"].where(linking.clusters["cluster_label"].isin(list(ids)))
    scores = model.score(
        features, cluster_of=cluster_of, cluster_features=linking.cluster_features, no_inheritance=exempt,
        own=prepared.own,
    )  # fmt: skip
    inputs = model_inputs(features, scores)
    version = model.version
    own = scores.accounts["own_score"]
    risk = scores.accounts["risk_score"]
    reasons = account_reasons(
        scores, features, model.prior, cluster_ids=ids, cluster_evidence=linking.evidence
    )
    if supervised is not None:
        version, trained = supervised
        own = risk = trained.predict_proba(inputs)
        reasons = trained.explain(inputs)
    shadow_score = shadow.predict_proba(inputs) if shadow is not None else pd.Series(np.nan, index=features.index)

    # every cluster linking found, also those with fewer than two scored members (no events in the window)
    labels = pd.Index(list(ids), dtype="string")
    by_id = pd.Series(scores.clusters["score"].reindex(labels).fillna(0.0).to_numpy(), index=list(ids.values()))
    benign = pd.Series(scores.clusters["benign"].reindex(labels).fillna(False).astype(bool).to_numpy(),
                       index=list(ids.values()))  # fmt: skip
    cluster_flagged = flag_clusters(
        by_id, thresholds=config.thresholds, benign=benign, status={cid: s for cid, (s, _) in status.items()}
    )
    cluster_id_of = cluster_of.reindex(features.index).map(ids)
    decisions = flag_accounts(own, thresholds=config.thresholds, cluster_of=cluster_id_of,
                              cluster_flagged=cluster_flagged)  # fmt: skip
    accounts_out = pd.DataFrame(
        {
            "risk_score": risk.astype("float64"),
            "own_score": own.astype("float64"),
            "flagged": decisions["flagged"],
            "flag_source": decisions["flag_source"],
            "cluster_id": cluster_id_of.astype("string"),
            "shadow_score": shadow_score.astype("float64"),
        },
        index=features.index,
    )
    progress("explaining", 0.85)
    clusters_out, members, label_reasons, evidence, feature_rows = _cluster_outputs(
        linking, scores, ids, groups, status, cluster_flagged, benign, model
    )
    stats = {
        "accounts_scored": len(accounts_out),
        "accounts_flagged": int(accounts_out["flagged"].sum()),
        "flagged_by_score": int((accounts_out["flag_source"] == "score").sum()),
        "flagged_by_cluster": int((accounts_out["flag_source"] == "cluster").sum()),
        "clusters": len(clusters_out),
        "clusters_flagged": int(clusters_out["flagged"].sum()) if len(clusters_out) else 0,
        "clusters_new": len(matching.new),
        "clusters_retired": len(matching.retired),
        "clusters_reopened": int(clusters_out["reopened"].sum()) if len(clusters_out) else 0,
        "linking": linking.stats,
    }
    progress("done", 1.0)
    return Detection(
        accounts=accounts_out, reasons=reasons, inputs=inputs, clusters=clusters_out, members=members,
        cluster_reasons=label_reasons, evidence=evidence, cluster_features=feature_rows, matching=matching,
        scores=scores, linking=linking, model_version=version, stats=stats,
    )  # fmt: skip


def link(
    events: pd.DataFrame, accounts: pd.DataFrame | None, *, topics: pd.Series | None = None,
    codes: EventCodes | None = None, config: PipelineConfig | None = None, cores: Cores | None = None,
) -> Linking:  # fmt: skip
    """The clusters of ``events``' accounts: the linking half of :func:`detect`, which reads no features, so a
    caller may run it while the features are computed (giving it ``cores``) and hand the result to :func:`detect`."""
    config = config or PipelineConfig()
    frame = accounts if accounts is not None else pd.DataFrame()
    # scoring reads the clusters of min_cluster_size accounts or more: the singletons need no description
    return link_accounts(events, frame, topics=topics, config=config.linking, codes=codes, cores=cores,
                         min_described_size=config.min_cluster_size)  # fmt: skip


def multi_account_clusters(linking: Linking, min_size: int) -> dict[str, set[str]]:
    """label → members, for clusters of at least ``min_size`` accounts (singletons are most labels: skip them
    before grouping)."""
    labels = linking.clusters["cluster_label"]
    sizes = labels.value_counts()
    keep = labels[labels.map(sizes).to_numpy() >= min_size]
    return {str(label): set(group.index.astype(str)) for label, group in keep.groupby(keep, sort=True)}


def _statuses(
    matching: ClusterMatching,
    groups: Mapping[str, set[str]],
    previous_status: Mapping[str, str],
    decided_sizes: Mapping[str, int],
    previous_clusters: Mapping[str, set[str]],
) -> dict[str, tuple[str, bool]]:
    """cluster id → (status this run, reopened?): inherited clusters keep their status unless a decided one grew."""
    out: dict[str, tuple[str, bool]] = {}
    for label, cluster_id in matching.ids.items():
        state = previous_status.get(cluster_id, "open") if label in matching.inherited else "open"
        members = groups[str(label)]
        if reopened(state, decided_sizes.get(cluster_id), members, previous_clusters.get(cluster_id, set())):
            out[cluster_id] = ("open", True)
        else:
            out[cluster_id] = (state, False)
    return out


def _cluster_outputs(
    linking: Linking,
    scores: Scores,
    ids: Mapping[str, str],
    groups: Mapping[str, set[str]],
    status: Mapping[str, tuple[str, bool]],
    flagged: pd.Series,
    benign: pd.Series,
    model: RiskModel,
) -> tuple[pd.DataFrame, dict[str, list[str]], dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]],
           dict[str, dict[str, Any]]]:  # fmt: skip
    features = linking.cluster_features
    reasons_by_label = cluster_reasons(scores, model.cluster_scorer)
    rows = []
    members: dict[str, list[str]] = {}
    reasons: dict[str, list[dict[str, Any]]] = {}
    evidence: dict[str, list[dict[str, Any]]] = {}
    feature_rows: dict[str, dict[str, Any]] = {}
    has_span = "first_seen" in features.columns and "last_seen" in features.columns
    # one conversion of the clusters' rows instead of a lookup per cluster and column
    by_label = features[features.index.isin(list(ids))].to_dict(orient="index")
    cluster_scores = scores.clusters["score"].to_dict()
    flagged_by_id, benign_by_id = flagged.to_dict(), benign.to_dict()
    for label, cluster_id in ids.items():
        state, was_reopened = status[cluster_id]
        row = by_label.get(label, {})
        rows.append({
            "cluster_id": cluster_id, "label": label, "score": float(cluster_scores.get(label, 0.0)),
            "flagged": bool(flagged_by_id.get(cluster_id, False)), "benign": bool(benign_by_id.get(cluster_id, False)),
            "size": len(groups[label]), "status": state, "reopened": was_reopened,
            "first_seen": row.get("first_seen") if has_span else None,
            "last_seen": row.get("last_seen") if has_span else None,
        })  # fmt: skip
        members[cluster_id] = sorted(groups[label])
        reasons[cluster_id] = reasons_by_label.get(label, [])
        evidence[cluster_id] = linking.evidence.get(label, [])
        feature_rows[cluster_id] = _plain({str(key): value for key, value in row.items()})
    columns = ["cluster_id", "label", "score", "flagged", "benign", "size", "status", "reopened", "first_seen",
               "last_seen"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns).set_index("cluster_id")
    return frame, members, reasons, evidence, feature_rows


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-friendly copy: numbers rounded, NaN dropped, timestamps as ISO text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            continue
        if isinstance(value, pd.Timestamp):
            out[str(key)] = value.isoformat()
        elif isinstance(value, np.bool_ | bool):
            out[str(key)] = bool(value)
        elif isinstance(value, np.integer | int):
            out[str(key)] = int(value)
        elif isinstance(value, np.floating | float):
            out[str(key)] = round(float(value), 4)
        else:
            out[str(key)] = str(value)
    return out


# ---- one-shot -------------------------------------------------------------------------------------------------
def run(
    events: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    *,
    ip_intel: IPIntel | None = None,
    config: PipelineConfig | None = None,
    progress: Progress = _no_progress,
) -> Detection:
    """A full detection over ``events`` (the window ends at the newest event)."""
    config = config or PipelineConfig()
    frame = prepare_events(events)
    if len(frame) and config.window_days is not None:
        start = window_start_ns(int(frame["ts"].array.asi8.max()), config.window_days)
        frame = frame[frame["ts"].array.asi8 >= start].reset_index(drop=True)
    progress("features", 0.0)
    state = build_feature_state(frame, accounts, ip_intel=ip_intel, window_days=config.window_days)
    features = state.features(accounts, window_days=config.window_days)
    topic_model = topic_model_of(state)
    topics = topic_model.transform_events(frame) if topic_model is not None and len(frame) else None
    return detect(frame, accounts, features, topics=topics, config=config, progress=progress)
