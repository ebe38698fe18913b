"""The one place where scores become decisions (``flagged``).

Scores are produced elsewhere (:mod:`detectors.scoring.model`, :mod:`detectors.scoring.clusters`); this module
owns the operating point.  The defaults are chosen for a review team's capacity, where a false positive costs an
analyst's time and a wrongly banned customer: an account is recommended for review by its own score only when
that score is high (0.8 needs about two strong independent signals, see :mod:`detectors.scoring.prior`), and a
cluster only when its coordination evidence and its members' behaviour together say so.

Review outcomes are applied here too, because they change decisions and not scores:

* members of a *confirmed* (or *escalated*) cluster stay flagged, whatever the score says this run;
* members of a *dismissed* cluster are exempt from cluster-based flagging; their own score can still flag them;
* a cluster judged *benign* by scoring (e.g. one organisation's accounts behind its NAT) flags nobody.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

FLAGGING_STATUSES = frozenset({"confirmed", "escalated"})
EXEMPT_STATUSES = frozenset({"dismissed"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    account: float = 0.8
    cluster: float = 0.7

    def __post_init__(self) -> None:
        for name in ("account", "cluster"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} threshold must be in (0, 1], got {value}")


def flag_clusters(
    scores: pd.Series,
    *,
    thresholds: Thresholds,
    benign: pd.Series | None = None,
    status: Mapping[str, str] | None = None,
) -> pd.Series:
    """Cluster id → flagged: score at or above the threshold and not judged benign, or confirmed by analysts."""
    flagged = scores.fillna(0.0) >= thresholds.cluster
    if benign is not None:
        flagged &= ~benign.reindex(scores.index).fillna(False).astype(bool)
    if status:
        state = pd.Series(status, dtype="string").reindex(scores.index)
        flagged |= state.isin(FLAGGING_STATUSES).fillna(False).astype(bool)
        flagged &= ~state.isin(EXEMPT_STATUSES).fillna(False).astype(bool)
    return flagged.astype(bool)


def flag_accounts(
    own_scores: pd.Series,
    *,
    thresholds: Thresholds,
    cluster_of: pd.Series | None = None,
    cluster_flagged: pd.Series | None = None,
) -> pd.DataFrame:
    """Account id → ``flagged`` and ``flag_source`` (``score``, ``cluster`` or empty).

    ``own_scores`` are the accounts' risk scores *before* decisions; ``cluster_of`` maps accounts to their
    cluster id (NaN for none); ``cluster_flagged`` is :func:`flag_clusters`' output.
    """
    by_score = own_scores.fillna(0.0).to_numpy() >= thresholds.account
    by_cluster = np.zeros(len(own_scores), dtype=bool)
    if cluster_of is not None and cluster_flagged is not None and len(cluster_flagged):
        clusters = cluster_of.reindex(own_scores.index)
        by_cluster = clusters.map(cluster_flagged).fillna(False).astype(bool).to_numpy()
    source = np.where(by_score, "score", np.where(by_cluster, "cluster", ""))
    return pd.DataFrame({"flagged": by_score | by_cluster, "flag_source": source}, index=own_scores.index)


DECIDED_STATUSES = frozenset({"confirmed", "dismissed"})
REOPEN_GROWTH = 0.25
REOPEN_MIN_NEW = 2


def reopened(status: str, size_at_decision: int | None, members: Collection[str], previous: Collection[str]) -> bool:
    """A decided cluster goes back to review when it grew materially since the decision.

    Material growth: at least ``REOPEN_MIN_NEW`` more members and at least ``REOPEN_GROWTH`` more than it had
    when it was decided (``previous`` — last run's members — stands in when the decided size is unknown).
    """
    if status not in DECIDED_STATUSES:
        return False
    baseline = size_at_decision if size_at_decision is not None else len(previous)
    grown = len(members) - baseline
    return baseline > 0 and grown >= REOPEN_MIN_NEW and grown >= REOPEN_GROWTH * baseline
