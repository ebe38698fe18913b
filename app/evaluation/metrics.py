"""Detection-quality metrics, pure numpy, each checked against hand-computed values in the tests.

Scores: higher = riskier; NaN means "not scored" and ranks below every scored account.
Ties are handled as one threshold (an account is flagged at threshold t when score >= t).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _prepare(labels: Iterable[bool] | BoolArray, scores: Iterable[float] | FloatArray) -> tuple[BoolArray, FloatArray]:
    y = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels, dtype=bool)
    s = np.asarray(list(scores) if not isinstance(scores, np.ndarray) else scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {s.shape}")
    return y, np.where(np.isnan(s), -np.inf, s)


def threshold_counts(labels: Iterable[bool], scores: Iterable[float]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(thresholds descending, true positives, false positives) when flagging ``score >= threshold``."""
    y, s = _prepare(labels, scores)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    boundaries = np.flatnonzero(s_sorted[1:] != s_sorted[:-1])  # not np.diff: -inf - -inf is NaN
    last_of_tie = np.r_[boundaries, len(s_sorted) - 1] if len(s_sorted) else np.empty(0, dtype=int)
    tp = np.cumsum(y_sorted)[last_of_tie].astype(np.float64)
    fp = np.cumsum(~y_sorted)[last_of_tie].astype(np.float64)
    return s_sorted[last_of_tie], tp, fp


def roc_auc(labels: Iterable[bool], scores: Iterable[float]) -> float:
    """Probability that a random positive outranks a random negative (ties count half); NaN if one class is empty."""
    y, s = _prepare(labels, scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks: ties count half
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision(labels: Iterable[bool], scores: Iterable[float]) -> float:
    """Sum over thresholds of (recall gained) x (precision there), as scikit-learn defines it."""
    _, tp, fp = threshold_counts(labels, scores)
    if len(tp) == 0 or tp[-1] == 0:
        return float("nan")
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def pr_curve(labels: Iterable[bool], scores: Iterable[float]) -> tuple[FloatArray, FloatArray]:
    """(recall, precision) at every distinct threshold, from the strictest down."""
    _, tp, fp = threshold_counts(labels, scores)
    if len(tp) == 0 or tp[-1] == 0:
        return np.empty(0), np.empty(0)
    return tp / tp[-1], tp / (tp + fp)


def roc_curve(labels: Iterable[bool], scores: Iterable[float]) -> tuple[FloatArray, FloatArray]:
    """(false positive rate, true positive rate), starting at (0, 0)."""
    _, tp, fp = threshold_counts(labels, scores)
    n_pos, n_neg = (tp[-1], fp[-1]) if len(tp) else (0.0, 0.0)
    tpr = np.r_[0.0, tp / n_pos] if n_pos else np.zeros(len(tp) + 1)
    fpr = np.r_[0.0, fp / n_neg] if n_neg else np.zeros(len(fp) + 1)
    return fpr, tpr


def recall_at_fpr(labels: Iterable[bool], scores: Iterable[float], max_fpr: float) -> float:
    """The best recall over thresholds whose false positive rate is at most ``max_fpr`` (flagging nothing counts)."""
    fpr, tpr = roc_curve(labels, scores)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


@dataclass(frozen=True)
class FlaggedQuality:
    n_flagged: int
    true_positives: int
    precision: float | None  # None when nothing was flagged
    recall: float | None  # None when there are no campaign accounts
    f1: float | None


def flagged_quality(labels: Iterable[bool], flagged: Iterable[bool]) -> FlaggedQuality:
    y = np.asarray(list(labels), dtype=bool)
    f = np.asarray(list(flagged), dtype=bool)
    tp = int((y & f).sum())
    precision = tp / int(f.sum()) if f.any() else None
    recall = tp / int(y.sum()) if y.any() else None
    f1 = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    return FlaggedQuality(int(f.sum()), tp, precision, recall, f1)


def campaign_recall(campaign_of: Mapping[str, str | None], flagged: set[str]) -> dict[str, float]:
    """campaign id → share of its member accounts that were flagged."""
    members: dict[str, list[str]] = defaultdict(list)
    for account, campaign in campaign_of.items():
        if campaign is not None:
            members[campaign].append(account)
    return {c: sum(a in flagged for a in accts) / len(accts) for c, accts in sorted(members.items())}


def campaigns_detected(recalls: Mapping[str, float], min_recall: float = 0.5) -> list[str]:
    """Campaigns with at least ``min_recall`` of their members flagged."""
    return [c for c, r in recalls.items() if r >= min_recall]


@dataclass(frozen=True)
class ClusterQuality:
    n_flagged_clusters: int
    purity: float | None  # None when no flagged cluster exists
    completeness: dict[str, float]  # campaign → share of its members in its best flagged cluster

    @property
    def mean_completeness(self) -> float | None:
        return float(np.mean(list(self.completeness.values()))) if self.completeness else None


def cluster_quality(
    campaign_of: Mapping[str, str | None], cluster_of: Mapping[str, str | None], flagged: set[str]
) -> ClusterQuality:
    """Purity and completeness of flagged clusters (clusters with at least one flagged member).

    Purity: the share of flagged-cluster members that belong to their cluster's dominant
    campaign (benign members count against it, so a flagged all-benign cluster has purity 0).
    Completeness, per campaign: the largest share of its members found together in one flagged cluster.
    """
    clusters: dict[str, list[str]] = defaultdict(list)
    for account, cluster in cluster_of.items():
        if cluster is not None and account in campaign_of:
            clusters[cluster].append(account)
    flagged_clusters = {c: m for c, m in clusters.items() if any(a in flagged for a in m)}
    sizes = Counter(c for c in campaign_of.values() if c is not None)
    dominant_total = 0
    best: dict[str, int] = dict.fromkeys(sizes, 0)
    for members in flagged_clusters.values():
        counts = Counter(str(campaign_of[a]) for a in members if campaign_of[a] is not None)
        dominant_total += max(counts.values(), default=0)
        for campaign, count in counts.items():
            best[campaign] = max(best[campaign], count)
    total = sum(len(m) for m in flagged_clusters.values())
    return ClusterQuality(
        n_flagged_clusters=len(flagged_clusters),
        purity=dominant_total / total if total else None,
        completeness={c: best[c] / sizes[c] for c in sorted(sizes)},
    )
