"""Account and cluster risk in [0, 1]: the label-free prior, the anomaly nudge and the cluster context.

Everything is a *hazard* (non-negative, additive) and ``risk = 1 - exp(-hazard)``:

* own hazard = prior terms (:mod:`.prior`) + anomaly (:mod:`.anomaly`, gated like the prior's shape terms — by
  intent, discounted for a relay of people's requests — down to a quarter without extraction-shaped prompts);
* cluster hazard (:mod:`.clusters`) for every cluster of two or more accounts;
* an account inherits its cluster: its total hazard is ``max(own, cluster)``, written as own terms plus a
  ``cluster`` term worth the difference, so the explanation shows what the cluster added.  A lone heavy user
  has no cluster and inherits nothing; members of a benign cluster, or of one analysts dismissed, neither.

``own_score`` (without the cluster) is what decides flagging "by its own score"; ``risk_score`` is the score shown.
Decisions live in :mod:`.decision`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from detectors.scoring.anomaly import AnomalyModel
from detectors.scoring.clusters import DEFAULT_CLUSTER_TERMS, ClusterScorer, ClusterTerm
from detectors.scoring.prior import DEFAULT_TERMS, GATE_LEVELS, PriorModel, Term
from detectors.scoring.replay import FEATURE as REPLAY_FEATURE

# the structure of the combination; bumped when scores change without a documented weight or level changing
# (2: cluster members weigh in without their relay discount; 3: a cluster's members' intent carries their suite
# replay discount)
PRIOR_GENERATION = "prior-3"
CLUSTER_TERM = "cluster"
ANOMALY_TERM = "anomaly"
ANOMALY_GATE_FLOOR = 0.25


def prior_version(
    terms: Sequence[Term] = DEFAULT_TERMS, cluster_terms: Sequence[ClusterTerm] = DEFAULT_CLUSTER_TERMS
) -> str:
    """A version string that changes whenever a documented weight or level changes."""
    spec = repr([(t.feature, t.weight, t.group, t.min_scale, t.riskier) for t in terms])
    spec += repr([(t.name, t.weight, t.group, t.low, t.high) for t in cluster_terms])
    spec += repr(GATE_LEVELS)
    return f"{PRIOR_GENERATION}.{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


@dataclass
class Scores:
    """``accounts`` (index account_id): risk_score, own_score, prior_hazard, anomaly_hazard, cluster_hazard,
    intent, relay, anomaly_percentile, cluster_label (NA for lone accounts), cluster_score.
    ``account_terms``: hazard per prior term + ``anomaly`` + ``cluster`` (sums to the total hazard).
    ``clusters`` (index cluster_label, size >= 2 only): score, benign, size, member_intent, member_hazard.
    ``cluster_terms``: hazard per cluster term + ``members``; ``cluster_values``: each term's raw value."""

    accounts: pd.DataFrame
    account_terms: pd.DataFrame
    clusters: pd.DataFrame
    cluster_terms: pd.DataFrame
    cluster_values: pd.DataFrame
    version: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnTerms:
    """What each account's own features give, before any cluster is known (see :meth:`RiskModel.own`)."""

    prior_terms: pd.DataFrame
    intent: pd.Series
    relay: pd.Series
    replay: pd.Series
    anomaly_percentile: pd.Series
    anomaly_hazard: pd.Series
    member_hazard: pd.Series
    member_intent: pd.Series


# features the prior reads only to discount (a suite re-run): kept out of the anomaly model
EXPLANATORY_FEATURES = frozenset({REPLAY_FEATURE})


class RiskModel:
    """Fit on the population's features; score accounts and clusters given linking's clusters."""

    def __init__(
        self,
        prior: PriorModel | None = None,
        anomaly: AnomalyModel | None = None,
        cluster_scorer: ClusterScorer | None = None,
    ) -> None:
        self.prior = prior if prior is not None else PriorModel()
        self.anomaly = anomaly if anomaly is not None else AnomalyModel()
        self.cluster_scorer = cluster_scorer if cluster_scorer is not None else ClusterScorer()
        self.version = prior_version(self.prior.terms, self.cluster_scorer.terms)

    def fit(self, features: pd.DataFrame) -> Self:
        self.prior.fit(features)
        # explanations, not risk: how unusual an account is is judged on what it does, not on why it might be benign
        self.anomaly.fit(features.drop(columns=list(EXPLANATORY_FEATURES), errors="ignore"))
        return self

    def own(self, features: pd.DataFrame, *, fitted: bool = False) -> OwnTerms:
        """The terms that need no cluster: a caller may compute them while linking runs (see :meth:`score`).

        ``fitted``: ``features`` are the ones the model was just fitted on (see :meth:`AnomalyModel.percentile`)."""
        anomaly_pct = self.anomaly.percentile(features, fitted=fitted)
        # gated like the prior's shape terms (intent, discounted for a relay of people's requests): unusual traffic
        # without extraction-shaped prompts is a quarter as suspicious, so a lone heavy user stays low
        gate = self.prior.gate(features)
        anomaly_hazard = self.anomaly.hazard(features, anomaly_pct) * (ANOMALY_GATE_FLOOR
                                                                       + (1 - ANOMALY_GATE_FLOOR) * gate)  # fmt: skip
        # members weigh in without their relay discount: an account's relay of people's requests explains its own
        # harvest-like shape, not the hidden common control that links it to others (a proxy network mixing
        # customers' requests with a campaign's is the case; apps of different companies are not linked).  A suite
        # re-run still explains its shape, and here its reasoning requests too: accounts of one eval team, linked,
        # are re-running a benchmark that asks for steps, and a team of two would otherwise cross the cluster
        # threshold on its members' intent alone (a member risk of up to 0.63) plus the suite it shares.  The
        # account's own score keeps the intent in full (it still ranks above ordinary traffic).
        member_hazard = self.prior.hazards(features, relay_discount=False, replay_discounts_intent=True).sum(axis=1)
        # and the gate of the cluster's campaign terms: one suite shared (templates), run on each release (a
        # move to a new model) is what evaluation looks like, linked or not
        member_intent = self.prior.gate(features, relay_discount=False)
        return OwnTerms(
            prior_terms=self.prior.hazards(features), intent=self.prior.intent(features),
            relay=self.prior.relay(features), replay=self.prior.replay(features), anomaly_percentile=anomaly_pct,
            anomaly_hazard=anomaly_hazard, member_hazard=member_hazard, member_intent=member_intent,
        )  # fmt: skip

    def score(
        self,
        features: pd.DataFrame,
        *,
        cluster_of: pd.Series | None = None,
        cluster_features: pd.DataFrame | None = None,
        no_inheritance: Collection[str] = (),
        own: OwnTerms | None = None,
    ) -> Scores:
        """``cluster_of``: account_id → cluster label (every account, singletons included);
        ``cluster_features``: linking's features by label; ``no_inheritance``: labels whose members inherit
        nothing (e.g. dismissed by analysts); ``own``: :meth:`own` of ``features``, when computed already."""
        own = self.own(features) if own is None else own
        prior_terms, intent, relay, replay = own.prior_terms, own.intent, own.relay, own.replay
        prior_hazard = prior_terms.sum(axis=1)
        anomaly_pct, anomaly_hazard = own.anomaly_percentile, own.anomaly_hazard
        own_hazard = prior_hazard + anomaly_hazard

        labels = _multi_account_labels(features.index, cluster_of)
        clusters, cluster_terms, cluster_values = self._clusters(labels, cluster_features, own.member_hazard,
                                                                 own.member_intent)  # fmt: skip

        cluster_total = labels.map(clusters["hazard"]).astype("float64").fillna(0.0)
        inherits = labels.notna() & ~labels.isin(list(no_inheritance))
        inherits &= ~labels.map(clusters["benign"]).fillna(False).astype(bool)
        lift = (cluster_total - own_hazard).clip(lower=0.0).where(inherits, 0.0)

        account_terms = prior_terms.copy()
        account_terms[ANOMALY_TERM] = anomaly_hazard
        account_terms[CLUSTER_TERM] = lift
        total = own_hazard + lift
        accounts = pd.DataFrame(
            {
                "risk_score": 1.0 - np.exp(-total),
                "own_score": 1.0 - np.exp(-own_hazard),
                "prior_hazard": prior_hazard,
                "anomaly_hazard": anomaly_hazard,
                "cluster_hazard": lift,
                "intent": intent,
                "relay": relay,
                "replay": replay,
                "anomaly_percentile": anomaly_pct,
                "cluster_label": labels,
                "cluster_score": labels.map(clusters["score"]).astype("float64"),
            },
            index=features.index,
        )
        return Scores(accounts, account_terms, clusters, cluster_terms, cluster_values, self.version)

    def _clusters(
        self,
        labels: pd.Series,
        cluster_features: pd.DataFrame | None,
        prior_hazard: pd.Series,
        intent: pd.Series,
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        members = pd.DataFrame({"label": labels, "hazard": prior_hazard, "intent": intent}).dropna(subset=["label"])
        grouped = members.groupby("label", sort=True)
        index = pd.Index(sorted(str(label) for label in grouped.groups), name="cluster_label", dtype="string")
        if cluster_features is None:
            cluster_features = pd.DataFrame(index=index)
        feats = cluster_features.reindex(index).copy()
        feats["size"] = grouped.size().reindex(index).astype("float64")
        member_hazard = grouped["hazard"].mean().reindex(index)
        member_intent = grouped["intent"].mean().reindex(index)
        terms = self.cluster_scorer.hazards(feats, member_hazard, member_intent)
        hazard = terms.sum(axis=1)
        clusters = pd.DataFrame(
            {
                "score": 1.0 - np.exp(-hazard),
                "hazard": hazard,
                "benign": self.cluster_scorer.benign(feats, member_intent),
                "size": feats["size"].astype("int64"),
                "member_intent": member_intent,
                "member_hazard": member_hazard,
            },
            index=index,
        )
        return clusters, terms, self.cluster_scorer.values(feats)


def _multi_account_labels(index: pd.Index, cluster_of: pd.Series | None) -> pd.Series:
    """account → label of its cluster when that cluster has two or more scored accounts, else NA."""
    if cluster_of is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    labels = cluster_of.reindex(index).astype("string")
    sizes = labels.value_counts()
    return labels.where(labels.map(sizes).fillna(0).to_numpy() >= 2)
