"""Cluster risk: coordination evidence from linking, weighed by what the members' own traffic looks like.

A cluster is a set of accounts that linking believes one actor controls.  Common control alone is not abuse — a
company's employees share an egress IP, a card and an onboarding day; a family shares a home router — so the
cluster hazard is::

    hazard = gate * (sum of control terms * (1 - same_org_share) + sum of campaign terms) + members

* *control* terms — hidden common control: shared payment fingerprints, shared proxy/IP pools, connectedness of
  the evidence graph, sign-up bursts.  Discounted by ``same_org_share``, the share of members that *declare* one
  organisation: control that is declared is not concealed.
* *campaign* terms — coordinated harvesting: activity in lockstep, shared prompt templates, a topic space sharded
  between members, a synchronised pivot to a new model.  Not discounted: an organisation can run a campaign too.
* ``gate = 0.2 + 0.8 * member_intent``, the mean intent strength of the members (see
  :mod:`detectors.scoring.prior`): coordination of ordinary traffic counts for a fifth of coordination of
  extraction-shaped traffic.
* ``members`` — the members' mean own prior hazard: a cluster of individually suspicious accounts is suspicious.

Each term's strength is a linear ramp between two documented levels of a cluster feature, so the weights read
as "hazard when the evidence is unmistakable"; risk is ``1 - exp(-hazard)`` like the account prior.  Only
clusters of two or more accounts are scored.  A cluster is *benign* when most of it is one declared organisation
and its members show little intent; decisions (:mod:`detectors.scoring.decision`) never flag a benign cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from detectors.scoring.prior import ramp

ClusterGroup = Literal["control", "campaign"]

BENIGN_ORG_SHARE = 0.6
BENIGN_MAX_INTENT = 0.35
GATE_FLOOR = 0.2


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[name], errors="coerce").astype("float64")


def _per_member(name: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: _column(f, name) / _column(f, "size")


def _mean_degree(f: pd.DataFrame) -> pd.Series:
    return 2.0 * _column(f, "internal_weight") / _column(f, "size")


def _signup_burst(f: pd.DataFrame) -> pd.Series:
    # share of members on the top sign-up key, counted only when they signed up within a day of each other
    spread = _column(f, "signup_spread_hours")
    return _column(f, "top_signup_key_share").where(spread <= 24.0, 0.0)


def _sharded_coverage(f: pd.DataFrame) -> pd.Series:
    # disjoint topic sets mean something only when members each cover several topics
    return _column(f, "topic_disjointness").where(_column(f, "mean_member_topics") >= 3.0, 0.0)


@dataclass(frozen=True, slots=True)
class ClusterTerm:
    name: str
    weight: float
    group: ClusterGroup
    low: float  # strength 0 at or below
    high: float  # strength 1 at or above
    value: Callable[[pd.DataFrame], pd.Series]
    text: str  # "{value:...}" sentence


DEFAULT_CLUSTER_TERMS: tuple[ClusterTerm, ...] = (
    ClusterTerm("members_sharing_payment_share", 0.8, "control", 0.3, 0.8, _per_member("members_sharing_payment"),
                "{value:.0%} of members share a payment fingerprint"),
    ClusterTerm("members_on_shared_ips_share", 0.6, "control", 0.3, 0.8, _per_member("members_on_shared_ips"),
                "{value:.0%} of members share IP addresses"),
    ClusterTerm("evidence_degree", 0.6, "control", 1.0, 4.0, _mean_degree,
                "each member is tied to the others by {value:.1f} units of linking evidence"),
    ClusterTerm("signup_burst_share", 0.4, "control", 0.3, 0.8, _signup_burst,
                "{value:.0%} of members signed up the same way within a day"),
    ClusterTerm("lockstep_share", 0.7, "campaign", 0.15, 0.6, lambda f: _column(f, "lockstep_share"),
                "{value:.0%} of members' activity happens in lockstep"),
    ClusterTerm("template_request_share", 0.6, "campaign", 0.15, 0.6, lambda f: _column(f, "template_request_share"),
                "{value:.0%} of requests follow templates shared across members"),
    ClusterTerm("topic_disjointness", 0.4, "campaign", 0.5, 0.9, _sharded_coverage,
                "members split the topic space between them ({value:.0%} of topic sets distinct)"),
    ClusterTerm("migrated_member_share", 0.5, "campaign", 0.3, 0.8, _per_member("migrated_members"),
                "{value:.0%} of members moved to a new model together"),
)  # fmt: skip


class ClusterScorer:
    """Cluster features (linking) + members' prior hazard and intent → cluster hazard terms and score."""

    def __init__(self, terms: Sequence[ClusterTerm] = DEFAULT_CLUSTER_TERMS) -> None:
        self.terms = tuple(terms)

    def hazards(self, features: pd.DataFrame, member_hazard: pd.Series, member_intent: pd.Series) -> pd.DataFrame:
        """One column per term plus ``members``; rows are the clusters of ``features`` (size >= 2)."""
        org = _column(features, "same_org_share").fillna(0.0).clip(0.0, 1.0)
        intent = member_intent.reindex(features.index).fillna(0.0).clip(0.0, 1.0)
        gate = GATE_FLOOR + (1.0 - GATE_FLOOR) * intent
        out: dict[str, pd.Series] = {}
        for term in self.terms:
            strength = ramp(term.value(features), term.low, term.high)
            discount = (1.0 - org) if term.group == "control" else 1.0
            out[term.name] = term.weight * strength * discount * gate
        out["members"] = member_hazard.reindex(features.index).fillna(0.0)
        return pd.DataFrame(out, index=features.index, dtype="float64")

    def values(self, features: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({term.name: term.value(features) for term in self.terms}, index=features.index)

    def benign(self, features: pd.DataFrame, member_intent: pd.Series) -> pd.Series:
        org = _column(features, "same_org_share").fillna(0.0)
        intent = member_intent.reindex(features.index).fillna(0.0)
        return (org >= BENIGN_ORG_SHARE) & (intent < BENIGN_MAX_INTENT)

    def term(self, name: str) -> ClusterTerm:
        for term in self.terms:
            if term.name == name:
                return term
        raise KeyError(name)


def hazard_to_score(hazard: pd.Series | pd.DataFrame) -> pd.Series:
    total = hazard.sum(axis=1) if isinstance(hazard, pd.DataFrame) else hazard
    values = total.to_numpy(dtype="float64")
    return pd.Series(1.0 - np.exp(-values), index=total.index, dtype="float64")
