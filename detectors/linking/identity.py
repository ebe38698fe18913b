"""Stable cluster identity across detection runs.

A run's clusters are matched to the previous run's by member overlap, so a cluster keeps its id (and with it its
review status and history) while its membership mostly persists.  The default measure is *retention*: the share
of a previous cluster's members found in the current one.  Unlike Jaccard it lets a campaign keep its id while it
grows (a hydra replacing banned accounts), and unlike the overlap coefficient it does not hand a dissolved
cluster's id to whichever singleton one of its members ended up in.  Matching is one-to-one and greedy, best
score first; merges and splits are recorded.  A cluster with no predecessor gets an id derived from its members
(``c_`` + a stable hash), so the same input always gets the same ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from detectors.text import stable_hash

Measure = Literal["retention", "jaccard", "overlap"]

# A previous cluster counts as split when at least two current clusters each took this share of it.
SPLIT_SHARE = 0.2


def cluster_id_for(members: Iterable[str]) -> str:
    return "c_" + stable_hash("\x1f".join(sorted(members)))


@dataclass(frozen=True, slots=True)
class ClusterMatching:
    """``ids``: every current cluster's stable id; ``inherited``: those that continue a previous cluster;
    ``merges``: id → other previous ids most of whose members it absorbed; ``splits``: previous id → the current
    ids that each took a substantial part of it; ``retired``: previous ids continued by no current cluster."""

    ids: dict[Hashable, str]
    inherited: dict[Hashable, str] = field(default_factory=dict)
    new: list[Hashable] = field(default_factory=list)
    merges: dict[str, list[str]] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    scores: dict[Hashable, float] = field(default_factory=dict)


def _score(intersection: int, previous_size: int, current_size: int, measure: Measure) -> float:
    if measure == "jaccard":
        return intersection / (previous_size + current_size - intersection)
    if measure == "overlap":
        return intersection / min(previous_size, current_size)
    return intersection / previous_size


def match_clusters(
    previous: Mapping[str, set[str]],
    current: Mapping[Hashable, set[str]],
    *,
    min_overlap: float = 0.5,
    measure: Measure = "retention",
) -> ClusterMatching:
    owner = {member: cluster for cluster, members in previous.items() for member in members}
    sizes = {cluster: len(members) for cluster, members in previous.items()}
    # deterministic order for ties: by the current cluster's sorted members, not by its arbitrary key
    keys = sorted(current, key=lambda key: sorted(current[key]))
    order = {key: position for position, key in enumerate(keys)}
    overlaps: dict[Hashable, Counter[str]] = {
        key: Counter(owner[m] for m in current[key] if m in owner) for key in keys
    }
    candidates = [
        (score, count, previous_id, key)
        for key in keys
        for previous_id, count in overlaps[key].items()
        if (score := _score(count, sizes[previous_id], len(current[key]), measure)) >= min_overlap
    ]
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2], order[c[3]]))
    inherited: dict[Hashable, str] = {}
    scores: dict[Hashable, float] = {}
    taken: set[str] = set()
    for score, _, previous_id, key in candidates:
        if key in inherited or previous_id in taken:
            continue
        inherited[key] = previous_id
        scores[key] = score
        taken.add(previous_id)

    ids: dict[Hashable, str] = dict(inherited)
    used = set(previous) | taken
    new: list[Hashable] = []
    for key in keys:
        if key in ids:
            continue
        candidate = base = cluster_id_for(current[key])
        attempt = 0
        while candidate in used:
            attempt += 1
            candidate = "c_" + stable_hash(f"{base}#{attempt}")
        ids[key] = candidate
        used.add(candidate)
        new.append(key)

    merges: dict[str, list[str]] = {}
    for key in keys:
        absorbed = sorted(
            previous_id
            for previous_id, count in overlaps[key].items()
            if previous_id != inherited.get(key) and count >= min_overlap * sizes[previous_id]
        )
        if absorbed:
            merges[ids[key]] = absorbed
    successors: dict[str, list[str]] = {}
    for key in keys:
        for previous_id, count in overlaps[key].items():
            if count >= 2 and count >= SPLIT_SHARE * sizes[previous_id]:
                successors.setdefault(previous_id, []).append(ids[key])
    splits = {previous_id: sorted(parts) for previous_id, parts in successors.items() if len(parts) >= 2}
    retired = sorted(set(previous) - taken)
    return ClusterMatching(
        ids={key: ids[key] for key in current},
        inherited=inherited,
        new=new,
        merges=merges,
        splits=splits,
        retired=retired,
        scores=scores,
    )
