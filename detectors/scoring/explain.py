"""Reasons: the terms that moved a score most, with their values, contributions and a plain sentence.

A contribution is the term's share of the score: hazards add up, so a term holding ``h`` of a total hazard ``H``
is credited ``risk * h / H``; the contributions of all terms sum to the risk score.  Reasons are sorted by
contribution; terms that contributed nothing are left out, and an account nothing moved gets one reason saying so.
An account whose gated evidence was discounted as a relay of people's requests or a re-run evaluation suite
(:mod:`.prior`) gets a last reason saying by how much (contribution 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from detectors.scoring.clusters import ClusterScorer
from detectors.scoring.model import ANOMALY_TERM, CLUSTER_TERM, Scores
from detectors.scoring.prior import RELAY_DISCOUNT, PriorModel, Term
from detectors.scoring.replay import FEATURE as REPLAY_FEATURE

Reason = dict[str, Any]
MAX_REASONS = 5
MIN_CONTRIBUTION = 0.005
MIN_RELAY_SHOWN = 0.2
RELAY_TEXT = (
    "traffic of an app relaying people's conversations or many end users behind a fixed prompt: harvest-shape and "
    "infrastructure evidence counted {discount:.0%} less"
)
REPLAY_TEXT = (
    "re-runs a fixed suite ({share:.0%} of its distinct prompts sent to the same model again hours or days later), as "
    "evaluation does: harvest-shape and infrastructure evidence counted {discount:.0%} less"
)


def format_value(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value:.0%}"
    if unit == "hours":
        return f"{value:.1f}"
    if unit == "days":
        return f"{value:.1f}"
    if unit in {"count", "rate"}:
        return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"
    return f"{value:.2f}"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _prior_sentence(term: Term, value: float, median: float) -> str:
    shown, typical = format_value(value, term.unit), format_value(median, term.unit)
    return f"{shown} {term.text} (typical account: {typical})"


def account_reasons(
    scores: Scores,
    features: pd.DataFrame,
    prior: PriorModel,
    *,
    cluster_ids: Mapping[str, str] | None = None,
    cluster_evidence: Mapping[str, list[dict[str, Any]]] | None = None,
    limit: int = MAX_REASONS,
) -> dict[str, list[Reason]]:
    """account_id → reasons, for every account of ``scores``."""
    terms = scores.account_terms
    total = terms.sum(axis=1).to_numpy()
    risk = scores.accounts["risk_score"].to_numpy()
    share = np.divide(risk, total, out=np.zeros_like(risk), where=total > 0)
    contributions = terms.to_numpy() * share[:, None]
    names = list(terms.columns)
    inputs = prior.values(features.reindex(terms.index))
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :limit]
    accounts = scores.accounts
    labels = accounts["cluster_label"].astype(object).to_numpy()
    cluster_scores = accounts["cluster_score"].to_numpy(dtype="float64")
    percentiles = accounts["anomaly_percentile"].to_numpy(dtype="float64")
    zero = pd.Series(0.0, index=accounts.index)
    relay = accounts.get("relay", zero).fillna(0.0).to_numpy(dtype="float64")
    replay = accounts.get("replay", zero).fillna(0.0).to_numpy(dtype="float64")
    replay_column = features.reindex(terms.index).get(REPLAY_FEATURE, zero.reindex(terms.index))
    replay_share = replay_column.fillna(0.0).to_numpy(dtype="float64")
    intent = accounts.get("intent", zero).fillna(0.0).to_numpy(dtype="float64")
    sizes = {str(label): int(size) for label, size in scores.clusters["size"].items()}
    centers = prior.center_
    input_values = inputs.to_numpy(dtype="float64")
    input_column = {name: position for position, name in enumerate(inputs.columns)}
    out: dict[str, list[Reason]] = {}
    for row, account_id in enumerate(terms.index):
        reasons: list[Reason] = []
        for column in order[row]:
            contribution = float(contributions[row, column])
            if contribution < MIN_CONTRIBUTION:
                break
            name = names[column]
            if name == CLUSTER_TERM:
                label = str(labels[row])
                reasons.append(_cluster_reason(label, sizes[label], float(cluster_scores[row]), contribution,
                                               cluster_ids, cluster_evidence))  # fmt: skip
            elif name == ANOMALY_TERM:
                pct = float(percentiles[row])
                text = f"more unusual than {pct:.1%} of accounts across all features (isolation forest)"
                reasons.append(_reason("anomaly_percentile", round(pct, 4), contribution, text))
            else:
                term = prior.term(name)
                value = float(input_values[row, input_column[name]])
                text = _prior_sentence(term, value, centers[name])
                reasons.append(_reason(name, round(value, 4), contribution, text))
        if not reasons:
            reasons.append(_reason(
                "risk_score", round(float(risk[row]), 4), round(float(risk[row]), 4),
                "no feature is outside the population's normal range and the account is in no suspicious cluster",
            ))  # fmt: skip
        elif max(relay[row], replay[row]) >= MIN_RELAY_SHOWN and intent[row] > 0:
            # the stronger of the two discounts is the one the gate applied
            name, value, discount, text = (
                ("relay", relay[row], relay[row], RELAY_TEXT) if relay[row] >= replay[row]
                else (REPLAY_FEATURE, replay_share[row], replay[row], REPLAY_TEXT)
            )  # fmt: skip
            reasons.append(_reason(name, round(float(value), 4), 0.0, text.format(
                share=float(value), discount=RELAY_DISCOUNT * float(discount))))  # fmt: skip
        out[str(account_id)] = reasons
    return out


def _cluster_reason(
    label: str,
    size: int,
    score: float,
    contribution: float,
    cluster_ids: Mapping[str, str] | None,
    cluster_evidence: Mapping[str, list[dict[str, Any]]] | None,
) -> Reason:
    cluster_id = (cluster_ids or {}).get(label, label)
    text = f"member of cluster {cluster_id} ({size} accounts, cluster score {score:.2f})"
    evidence = (cluster_evidence or {}).get(label) or []
    if evidence:
        text += ": " + "; ".join(str(entry["text"]) for entry in evidence[:2])
    return _reason("cluster_score", round(score, 4), contribution, text)


def cluster_reasons(
    scores: Scores, scorer: ClusterScorer, *, limit: int = MAX_REASONS
) -> dict[str, list[Reason]]:
    """cluster label → its top reasons (cluster terms and the members' own risk)."""
    terms = scores.cluster_terms
    clusters = scores.clusters
    cluster_scores = clusters["score"].astype("float64").to_dict()
    member_hazards = clusters["member_hazard"].astype("float64").to_dict()
    benign = clusters["benign"].astype(bool).to_dict()
    out: dict[str, list[Reason]] = {}
    for label in terms.index:
        hazards = terms.loc[label]
        total = float(hazards.sum())
        score = cluster_scores[label]
        reasons: list[Reason] = []
        for name, hazard in hazards.sort_values(ascending=False, kind="stable").items():
            contribution = score * float(hazard) / total if total > 0 else 0.0
            if contribution < MIN_CONTRIBUTION or len(reasons) >= limit:
                break
            if name == "members":
                value = 1.0 - math.exp(-member_hazards[label])
                text = f"members' own traffic: mean prior risk {value:.2f}"
                reasons.append(_reason("member_prior_risk", round(value, 4), contribution, text))
                continue
            term = scorer.term(str(name))
            raw = _number(scores.cluster_values.at[label, name])
            text = term.text.format(value=raw if raw is not None else float("nan"))
            reasons.append(_reason(term.name, round(raw, 4) if raw is not None else None, contribution, text))
        if not reasons:
            reasons.append(_reason("cluster_score", round(score, 4), round(score, 4),
                                   "linked accounts whose traffic and coordination look ordinary"))  # fmt: skip
        if benign[label]:
            reasons.append(_reason("benign_organisation", 1.0, 0.0,
                                   "most members belong to one declared organisation and show little extraction "
                                   "intent: not flagged"))  # fmt: skip
        out[str(label)] = reasons
    return out


def _reason(feature: str, value: float | str | None, contribution: float, text: str) -> Reason:
    return {"feature": feature, "value": value, "contribution": round(float(contribution), 4), "text": text}
