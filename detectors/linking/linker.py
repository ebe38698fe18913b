"""link_accounts: events + account metadata → campaign clusters, their features and readable evidence."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from detectors.linking.clusters import cluster_features
from detectors.linking.communities import detect_communities
from detectors.linking.config import LinkingConfig
from detectors.linking.cores import Cores
from detectors.linking.encoding import EventCodes
from detectors.linking.evidence import cluster_evidence
from detectors.linking.graph import build_edges
from detectors.linking.identity import cluster_id_for
from detectors.linking.inputs import prepare, usable_rows
from detectors.linking.schedule import locked_schedules
from detectors.linking.templates import index_templates


@dataclass(frozen=True)
class Linking:
    """``clusters``: index account_id, column ``cluster_label`` (every account, singletons included);
    ``edges``: the pruned evidence graph (a < b account ids, ``weight``, ``kinds``, ``<kind>_weight``);
    ``cluster_features``: indexed by cluster_label (the clusters of at least ``min_described_size`` accounts that
    :func:`link_accounts` was given: all by default); ``evidence``: cluster_label → readable entries (the same ones);
    ``stats``: sizes and timings of the run."""

    clusters: pd.DataFrame
    edges: pd.DataFrame
    cluster_features: pd.DataFrame
    evidence: dict[str, list[dict[str, Any]]]
    stats: dict[str, Any] = field(default_factory=dict)

    def members(self) -> dict[str, set[str]]:
        """cluster_label → its account ids (the shape :func:`match_clusters` takes)."""
        grouped = self.clusters.groupby("cluster_label")
        return {str(label): set(group.index.astype(str)) for label, group in grouped}


class _Stopwatch:
    """Wall-clock and CPU seconds of each stage (CPU time tells the work apart from waiting on a busy host)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = time.perf_counter()
        self._last_cpu = time.process_time()

    def lap(self, name: str) -> None:
        now, now_cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(now - self._last, 3)
        self.cpu[name] = round(now_cpu - self._last_cpu, 3)
        self._last, self._last_cpu = now, now_cpu


def _labels(account_ids: pd.Index, communities: np.ndarray) -> pd.Series:
    """Community numbers → labels that depend only on membership (``c_`` + hash of the sorted members)."""
    accounts = np.asarray(account_ids.astype(str), dtype=object)
    order = np.argsort(communities, kind="stable")
    _, starts, sizes = np.unique(communities[order], return_index=True, return_counts=True)
    names = np.empty(len(accounts), dtype=object)
    # most communities are one account: their labels in one pass, the others community by community
    alone = order[starts[sizes == 1]]
    names[alone] = [cluster_id_for((account,)) for account in accounts[alone].tolist()]
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        members = order[start : start + size]
        names[members] = cluster_id_for(accounts[members])
    return pd.Series(names, dtype="string")


def link_accounts(
    events: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    topics: pd.Series | None = None,
    account_risk: pd.Series | None = None,
    config: LinkingConfig | None = None,
    codes: EventCodes | None = None,
    cores: Cores | None = None,
    min_described_size: int = 1,
) -> Linking:
    """Link accounts run by one actor into clusters.

    ``events``: the event frame (:data:`detectors.events.EVENT_COLUMNS`); ``accounts``: the account frame
    (indexed by account_id, or with an ``account_id`` column); ``topics``: a topic id per event, aligned with
    ``events``' index (-1 or NaN where unknown); ``account_risk``: a 0..1 risk per account_id, for the
    ``share_high_risk_members`` cluster feature; ``codes``: the per-event encodings of ``events``, row for row
    (:func:`.encoding.encode_events`), when the caller keeps them between calls (computed here otherwise);
    ``cores``: how many of linking's threads may compute at once, when the caller computes other work beside it
    (:mod:`.cores`; all ``config.threads`` otherwise); ``min_described_size``: the clusters that get features and
    evidence, by their number of accounts (a caller that reads only multi-account clusters passes 2).
    """
    config = config or LinkingConfig()
    clock = _Stopwatch()
    data = prepare(events, accounts, topics)
    if codes is not None and len(codes) == len(events):
        kept = usable_rows(events)
        codes = codes if kept.all() else codes.take(kept)
    # the kinds read the encodings through data.event_codes, which encodes (once) whatever does not fit
    data = replace(data, codes=codes)
    reused = codes is not None and codes.fits(config, len(data.events))
    templates = index_templates(data, config) if data.events["token_hashes"].notna().any() else None
    schedules = locked_schedules(data)  # shared by the schedule kind and its cluster features
    by_kind: dict[str, float] = {}
    edges = build_edges(data, config, templates, schedules, timings=by_kind, cores=cores)
    clock.lap("graph")
    communities = detect_communities(data.n_accounts, edges, config)
    label = _labels(data.account_ids, communities)
    community_sizes = np.bincount(communities) if len(communities) else np.zeros(0, np.int64)
    clock.lap("communities")
    features = cluster_features(
        data, label, edges, templates=templates, topics_given=topics is not None,
        account_risk=account_risk, config=config, schedules=schedules, cores=cores, min_size=min_described_size,
    )  # fmt: skip
    evidence = cluster_evidence(features)
    clock.lap("features")
    clusters = pd.DataFrame(
        {"cluster_label": label.to_numpy()}, index=pd.Index(data.account_ids.astype(str), name="account_id")
    ).astype({"cluster_label": "string"})
    named_edges = edges.copy()
    names = np.asarray(data.account_ids.astype(str))
    named_edges["a"] = pd.array(names[edges["a"].to_numpy(np.int64)], dtype="string")
    named_edges["b"] = pd.array(names[edges["b"].to_numpy(np.int64)], dtype="string")
    stats = {
        "accounts": data.n_accounts,
        "events": len(data.events),
        "edges": len(edges),
        "clusters": int((community_sizes > 0).sum()),
        "multi_account_clusters": int((community_sizes >= 2).sum()),
        "events_encoded": 0 if reused else len(data.events),
        "seconds": clock.laps,
        "graph_seconds_by_kind": {kind: round(value, 3) for kind, value in by_kind.items()},
        "cpu_seconds": clock.cpu,
    }
    return Linking(
        clusters=clusters,
        edges=named_edges,
        cluster_features=features,
        evidence=evidence,
        stats=stats,
    )
