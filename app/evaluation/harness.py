"""Score the system and the baselines on the same accounts against the same truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.evaluation import metrics as m
from app.evaluation.sources import AccountScore
from detectors.baselines import BASELINES, baseline_flags, baseline_scores

FPR_LEVELS = {"recall_at_fpr_0.1pct": 0.001, "recall_at_fpr_1pct": 0.01}
DETECTED_MIN_RECALL = 0.5


@dataclass
class Scored:
    """One system's view of every truth account (aligned to :attr:`Evaluation.accounts`)."""

    scores: np.ndarray
    flagged: np.ndarray
    clusters: dict[str, str | None] | None = None


@dataclass
class Evaluation:
    accounts: list[str]
    labels: np.ndarray
    truth: dict[str, Any]
    systems: dict[str, Scored] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: population facts plus every system's metrics."""
        personas = self.truth.get("personas", {})
        return {
            "n_accounts": len(self.accounts),
            "n_dormant_excluded": len(self.truth.get("dormant", ())),
            "n_campaign_accounts": int(self.labels.sum()),
            "n_campaigns": len(self.truth.get("campaigns", {})),
            "campaigns": {
                cid: {"archetype": c.get("archetype"), "accounts": c.get("accounts")}
                for cid, c in self.truth.get("campaigns", {}).items()
            },
            "benign_personas": dict(sorted(pd.Series([personas.get(a) for a, y in zip(
                self.accounts, self.labels, strict=True) if not y], dtype="object").value_counts().items())),
            "systems": self.results,
        }  # fmt: skip


def system_from_scores(accounts: list[str], records: dict[str, AccountScore]) -> Scored:
    """Accounts the system never scored rank last and are not flagged."""
    scores = np.array(
        [records[a].risk_score if a in records and records[a].risk_score is not None else np.nan for a in accounts],
        dtype=np.float64,
    )
    flagged = np.array([a in records and records[a].flagged for a in accounts], dtype=bool)
    clusters = {a: records[a].cluster_id if a in records else None for a in accounts}
    return Scored(scores, flagged, clusters)


def baseline_systems(accounts: list[str], events: pd.DataFrame) -> dict[str, Scored]:
    table = baseline_scores(events).reindex(accounts)
    systems = {}
    for name in BASELINES:
        column = table[name].astype("float64")
        flags = baseline_flags(name, column).fillna(False).astype(bool)
        systems[name] = Scored(column.to_numpy(), flags.to_numpy())
    return systems


def measure(
    labels: np.ndarray, scored: Scored, campaign_of: dict[str, str | None], accounts: list[str], truth: dict[str, Any]
) -> dict[str, Any]:
    flagged_set = {a for a, f in zip(accounts, scored.flagged, strict=True) if f}
    quality = m.flagged_quality(labels, scored.flagged)
    recalls = m.campaign_recall(campaign_of, flagged_set)
    detected = m.campaigns_detected(recalls, DETECTED_MIN_RECALL)
    result: dict[str, Any] = {
        "roc_auc": m.roc_auc(labels, scored.scores),
        "average_precision": m.average_precision(labels, scored.scores),
        **{name: m.recall_at_fpr(labels, scored.scores, level) for name, level in FPR_LEVELS.items()},
        "n_flagged": quality.n_flagged,
        "flagged_precision": quality.precision,
        "flagged_recall": quality.recall,
        "flagged_f1": quality.f1,
        "campaigns_detected": len(detected),
        "campaigns_total": len(recalls),
        "campaign_recall": recalls,
        "benign_flagged_by_persona": _benign_flagged_by_persona(labels, scored.flagged, accounts, truth),
        "top_benign": _top_benign(labels, scored.scores, accounts, truth),
    }
    if scored.clusters is not None:
        clusters = m.cluster_quality(campaign_of, scored.clusters, flagged_set)
        result.update(
            n_flagged_clusters=clusters.n_flagged_clusters,
            cluster_purity=clusters.purity,
            cluster_completeness=clusters.mean_completeness,
            campaign_completeness=clusters.completeness,
        )
    return result


def _top_benign(
    labels: np.ndarray, scores: np.ndarray, accounts: list[str], truth: dict[str, Any], k: int = 10
) -> list[dict[str, Any]]:
    """The benign accounts a system ranks highest: the hard negatives to look at first."""
    personas = truth.get("personas", {})
    benign = np.flatnonzero(~labels & ~np.isnan(scores))
    top = benign[np.argsort(-scores[benign], kind="stable")[:k]]
    return [{"account_id": accounts[i], "persona": personas.get(accounts[i]), "score": float(scores[i])} for i in top]


def _benign_flagged_by_persona(
    labels: np.ndarray, flagged: np.ndarray, accounts: list[str], truth: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Which hard negatives a system trips over: per benign persona, how many were flagged."""
    personas = truth.get("personas", {})
    frame = pd.DataFrame({"persona": [personas.get(a, "unknown") for a in accounts], "flagged": flagged})
    frame = frame[~labels]
    out = {}
    for persona, group in frame.groupby("persona", sort=True):
        out[str(persona)] = {"accounts": len(group), "flagged": int(group["flagged"].sum()),
                             "share": float(group["flagged"].mean())}  # fmt: skip
    return out


def evaluate(
    truth: dict[str, Any],
    events: pd.DataFrame | None,
    system: dict[str, AccountScore] | None = None,
    *,
    system_name: str = "distillguard",
) -> Evaluation:
    """Metrics for the system (if given) and, when ``events`` are given, for the three baselines.

    The population is every truth account except the ``dormant`` ones (no request in the window).
    """
    dormant = set(truth.get("dormant", ()))
    campaign_of: dict[str, str | None] = {a: c for a, c in truth["accounts"].items() if a not in dormant}
    accounts = sorted(campaign_of)
    labels = np.array([campaign_of[a] is not None for a in accounts], dtype=bool)
    evaluation = Evaluation(accounts=accounts, labels=labels, truth=truth)
    if system is not None:
        evaluation.systems[system_name] = system_from_scores(accounts, system)
    if events is not None:
        evaluation.systems.update(baseline_systems(accounts, events))
    for name, scored in evaluation.systems.items():
        evaluation.results[name] = measure(labels, scored, campaign_of, accounts, truth)
    return evaluation
