"""The label-free prior: documented weights over features normalised against the population.

Every term reads one feature and turns it into a *strength* in [0, 1] with a robust z-score against the
population: ``z = (x - median) / scale``, ``scale = max(1.4826 * MAD, min_scale)`` (``min_scale`` is the smallest
difference that counts as one unit of deviation, so a feature almost every account has at 0 does not turn a tiny
value into a huge z), and ``strength = clip((z - 2) / (5 - 2), 0, 1)``: nothing inside two robust standard
deviations of the population, full strength from five.  Per-request rates are first shrunk towards 0 for accounts
with few requests (``rate * n / (n + 20)``).  The population is the *ordinary* traffic: after a first fit, the
medians and scales are refitted without the accounts whose gate (below) is at least ``BASELINE_MAX_GATE``, so a
campaign that is a large share of the window cannot pull the baseline towards itself.  A term adds
``weight * strength`` to the account's *hazard*; the risk is ``1 - exp(-hazard)``, so terms add up like
independent pieces of evidence.

Terms come in three groups:

* ``intent`` — what the prompts ask for: step-by-step reasoning, rubric grading, several high-temperature samples
  per prompt, or — for accounts relaying many end users (resellers, proxies) — step-by-step reasoning concentrated
  in a few end users well above the account's own (diluted) rate.  These are the hallmarks of harvesting training
  data (or using the model as a reward model) and count on their own, but the group adds at most ``INTENT_CAP``
  (0.63 risk): app backends with a reasoning system prompt and eval runners ask for reasoning too.
* ``shape`` — what a harvest looks like: broad topic coverage, round-the-clock single-turn collection, long
  outputs, sweeps, a fast pivot to a new model.  Batch jobs, eval runners and coding agents show
  some of these, so the group is *gated* by intent: each term is multiplied by the account's intent strength
  (its strongest intent term), and says nothing about an account whose prompts are ordinary.
* ``infrastructure`` — concealment: rotating residential proxies, hosting or VPN exits, brand-new accounts,
  fabricated chat histories that dress harvesting prompts as the next turn of a conversation.
  Gated by intent as well (app backends live on cloud IPs; mobile users rotate through CGNAT).

Words are the attacker's to choose, so the gate has a second key that needs none (``evasion``): the shape of a
harvest together with a disguise — a fabricated chat history, or rotation through many non-cloud addresses a day
(a residential proxy pool).  It opens the gate to at most ``EVASION_CAP``; either half alone keeps it shut, since
eval runners and app backends have the shape and phones on carrier-grade NAT rotate addresses.

An app backend with a reasoning system prompt asks for reasoning on every request and, relaying the public, shows
the breadth and round-the-clock activity of a harvest; what sets it apart is *whose* requests it sends.  A fixed frame
in front of its users' conversations shows up as follow-up turns whose conversation starts were observed (people ask
again; harvesting wants independent task prompts, and dresses them as chats only with made-up histories) or as many
end users none of whom dominates.  That ``relay`` evidence discounts the gate of the shape and infrastructure terms
(and of the anomaly nudge) by up to ``RELAY_DISCOUNT`` — never the intent terms, so the account still ranks high —
and is void as far as a disguise is shown: fabricated histories, a residential proxy pool, or reasoning requests
concentrated in a few end users (a reseller's harvesting customers), the very things a harvest posing as an app
would do.  Genuine conversations alone do not make a relay either: a harvest can ask for the reasoning in a
follow-up after every task, or run agent loops whose tool results come back as user turns.  A fixed reasoning frame
asks at every depth alike, a script where it is written, so the discount fades as the reasoning rate of follow-up
turns departs from that of first turns (``cot_depth_disparity``).

So a lone heavy user, a batch job or a corporate NAT scores low however unusual it is, and an account needs both
extraction-shaped prompts (or the disguise above) and the shape or concealment of a harvest to reach the review
threshold (0.8, a hazard of 1.61) on its own.  Evidence that several accounts act as one (linking) is weighed by
:mod:`detectors.scoring.clusters`, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

Group = Literal["intent", "shape", "infrastructure"]
Unit = Literal["share", "count", "rate", "hours", "days", "score"]

Z_START = 2.0
Z_FULL = 5.0
MAD_TO_SIGMA = 1.4826
# Rates of accounts with few requests are shrunk towards 0 by this many pseudo-requests (empirical-Bayes style):
# one step-by-step question among five requests is not a 20% elicitation rate.
PSEUDO_REQUESTS = 20.0
# The intent group as a whole adds at most this hazard (0.63 risk): intent alone never reaches the flag threshold.
INTENT_CAP = 1.0
# the population baseline (each term's median and scale) is refitted without accounts whose gate reaches
# BASELINE_MAX_GATE, when at least BASELINE_MIN_ACCOUNTS and BASELINE_MIN_SHARE of all accounts remain
BASELINE_MAX_GATE = 0.5
BASELINE_MIN_ACCOUNTS = 30
BASELINE_MIN_SHARE = 0.2
# The gate without words (see PriorModel._evasion): a harvest's shape (the weighted mean of the shape terms'
# strengths) and a disguise, each ramped between these levels; their product, at most EVASION_CAP, opens the
# gate like an intent term would.
EVASION_SHAPE = (0.15, 0.35)
EVASION_DISGUISE = (0.3, 0.8)
EVASION_CAP = 0.6
# Relay of people's requests behind a fixed frame (see PriorModel._relay): follow-up turns of observed conversations
# (share of requests, shrunk for few requests), or many end users of whom none dominates, each ramped between these
# levels; the stronger of the two, voided by a disguise, lowers the gate of the gated terms by up to RELAY_DISCOUNT.
RELAY_FOLLOWUP = (0.1, 0.3)
RELAY_END_USERS = (20.0, 100.0)
RELAY_END_USER_TOP_SHARE = (0.2, 0.5)  # relay evidence from end users fades as one of them dominates the traffic
RELAY_DISCOUNT = 0.7
# relay evidence fades as the reasoning rate of follow-up turns departs from that of first turns (a script's
# elicitation, not a fixed frame's): void from the upper level of cot_depth_disparity on
RELAY_COT_DISPARITY = (0.03, 0.1)
# An evaluation suite re-run (see detectors.scoring.replay): the share of an account's distinct (model, prompt) pairs
# sent again an hour or more after their first sending, ramped between these levels, discounts the gated terms like
# a relay does (the larger of the two counts); eval runners re-run most of their suite, people and harvests a tenth
# or less
REPLAY_SHARE = (0.25, 0.5)
# ...but a re-run is a burst (the suite, then nothing until the next run), so the evidence fades as the account's
# activity fills the day: active hours per active day ramped between these levels void it.  Collection around the
# clock that comes back to prompts it sent before is a harvest looping over a finite pool (resampling its answers),
# not an evaluation.  (Round the clock: the evidence is whole below 18 active hours per active day, void from 23.)
REPLAY_ROUND_THE_CLOCK = (18.0, 23.0)
# the documented levels of the gates, part of the prior's version (detectors.scoring.model.prior_version)
GATE_LEVELS = (INTENT_CAP, BASELINE_MAX_GATE, EVASION_SHAPE, EVASION_DISGUISE, EVASION_CAP, RELAY_FOLLOWUP,
               RELAY_END_USERS, RELAY_END_USER_TOP_SHARE, RELAY_DISCOUNT, RELAY_COT_DISPARITY,
               REPLAY_SHARE, REPLAY_ROUND_THE_CLOCK)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Term:
    feature: str
    weight: float
    group: Group
    min_scale: float
    unit: Unit
    text: str  # completes "{value} ..." e.g. "of requests ask for step-by-step reasoning"
    riskier: Literal["higher", "lower"] = "higher"
    shrink: bool = False  # a per-request rate: shrink it for accounts with few requests


# Weights are hazards at full strength (see the module docstring for the groups and the gate).
DEFAULT_TERMS: tuple[Term, ...] = (
    # intent: what the prompts ask for
    Term("cot_elicitation_rate", 0.8, "intent", 0.03, "share", "of requests ask for step-by-step reasoning",
         shrink=True),
    Term("rubric_prompt_rate", 0.7, "intent", 0.03, "share", "of requests ask the model to grade or score answers",
         shrink=True),
    Term("multi_sample_high_temperature_share", 0.5, "intent", 0.03, "share",
         "of requests sample several completions at high temperature", shrink=True),
    # a reseller or proxy network dilutes its harvesting customers' requests among genuine ones: the account's own
    # rates stay low, so reasoning requests concentrated in a few of its end users are intent evidence in their own
    # right (already shrunk for light end users; an app asking every request for reasoning shows no excess)
    Term("end_user_cot_excess", 0.8, "intent", 0.03, "share",
         "more of one end user's requests ask for step-by-step reasoning than the account's overall "
         "(reasoning harvest concentrated in a few of its end users)"),
    # shape of a harvest (gated): broad coverage, round-the-clock single-turn collection, sweeps, pivots
    Term("topic_breadth", 0.5, "shape", 0.1, "share", "of the population's topics covered"),
    Term("topic_coverage_ratio", 0.5, "shape", 0.05, "score",
         "times the distinct topics organic traffic of the same volume reaches (a systematic sweep)"),
    Term("active_hours_per_active_day", 0.25, "shape", 2.0, "hours", "active hours per active day"),
    Term("single_turn_share", 0.15, "shape", 0.1, "share", "of requests are single-turn"),
    Term("completion_prompt_token_ratio", 0.15, "shape", 2.0, "rate",
         "completion tokens per prompt token (harvesting long answers)"),
    Term("max_tokens_saturation_share", 0.15, "shape", 0.05, "share",
         "of responses run into max_tokens (harvesting long outputs)", shrink=True),
    Term("topic_late_novelty_share", 0.15, "shape", 0.1, "share",
         "of topics first appear late in the window (a sweep that keeps moving on)"),
    Term("successive_distance_nonnormality", 0.15, "shape", 0.1, "score",
         "non-normality of distances between successive prompts (PRADA-style probing)"),
    Term("new_model_traffic_share_24h", 0.15, "shape", 0.1, "share",
         "of traffic moved to a newly released model within 24 h"),
    # concealment (gated)
    # a made-up chat history around a harvesting prompt: deliberate disguise, no client produces it by accident
    Term("unanchored_history_share", 0.7, "infrastructure", 0.05, "share",
         "of requests carry a chat history no observed conversation start accounts for (fabricated turns)",
         shrink=True),
    Term("ip_single_use_share", 0.3, "infrastructure", 0.1, "share",
         "of IP addresses used for a single request (rotating proxy exits)", shrink=True),
    Term("ip_distinct_per_day", 0.2, "infrastructure", 2.0, "count", "distinct IP addresses per day"),
    Term("hosting_traffic_share", 0.2, "infrastructure", 0.1, "share",
         "of traffic from cloud, data-centre or VPN addresses"),
    Term("account_age_days_at_first_request", 0.15, "infrastructure", 30.0, "days",
         "days old at its first request", riskier="lower"),
    Term("ip_country_mismatch_share", 0.1, "infrastructure", 0.1, "share",
         "of traffic from a country other than the account's", shrink=True),
)  # fmt: skip


def robust_center_scale(values: npt.NDArray[np.float64], min_scale: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, float(min_scale)
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median))) * MAD_TO_SIGMA
    return median, max(mad, float(min_scale))


def ramp(values: pd.Series, low: float, high: float) -> pd.Series:
    """0 at or below ``low``, 1 at or above ``high``, linear between (NaN: 0)."""
    return ((values - low) / (high - low)).clip(0.0, 1.0).fillna(0.0)


def _column(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(frame[name].to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)


class PriorModel(BaseEstimator):  # type: ignore[misc]
    """Population-normalised, documented-weight hazard per account (higher = riskier).

    ``fit(features)`` learns each term's median and robust scale from the population; ``hazards(features)``
    gives one column per term (gating applied); ``score`` is ``1 - exp(-sum)``.  Terms whose feature is absent
    from the frame are inactive; NaN values contribute nothing.
    """

    def __init__(self, terms: Sequence[Term] = DEFAULT_TERMS) -> None:
        self.terms = terms

    def fit(self, features: pd.DataFrame, y: Any = None) -> Self:
        if not isinstance(features, pd.DataFrame):
            raise TypeError("PriorModel.fit expects the feature DataFrame")
        self.terms_ = tuple(term for term in self.terms if term.feature in features.columns)
        self._fit_baseline(features)
        # Second pass: the baseline is ordinary traffic.  Where campaigns are a large share of the window (a
        # small tenant, a hydra of thousands), fitting on everyone moves the medians towards them and widens the
        # scales, and the very accounts to be found stop standing out; so refit on the accounts the first pass
        # saw no extraction intent in, when there are enough of them.
        ordinary = (self.intent(features) < BASELINE_MAX_GATE).to_numpy()
        if ordinary.sum() >= max(BASELINE_MIN_ACCOUNTS, BASELINE_MIN_SHARE * len(features)) and not ordinary.all():
            self._fit_baseline(features[ordinary])
        return self

    def _fit_baseline(self, features: pd.DataFrame) -> None:
        self.center_: dict[str, float] = {}
        self.scale_: dict[str, float] = {}
        inputs = self.values(features)
        for term in self.terms_:
            values = inputs[term.feature].to_numpy()
            self.center_[term.feature], self.scale_[term.feature] = robust_center_scale(values, term.min_scale)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return np.asarray([term.feature for term in self.terms_], dtype=object)

    def values(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each term's input: the feature, shrunk for rates of accounts with few requests."""
        counts = _column(features, "request_count")
        reliability = np.where(np.isnan(counts), 1.0, counts / (counts + PSEUDO_REQUESTS))
        out = {}
        for term in self.terms_:
            values = _column(features, term.feature)
            out[term.feature] = values * reliability if term.shrink else values
        return pd.DataFrame(out, index=features.index, dtype="float64")

    def strengths(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per term, the robust-z strength in [0, 1] before weights and gating."""
        inputs = self.values(features)
        out = {}
        for term in self.terms_:
            values = inputs[term.feature].to_numpy()
            z = (values - self.center_[term.feature]) / self.scale_[term.feature]
            if term.riskier == "lower":
                z = -z
            out[term.feature] = np.nan_to_num(np.clip((z - Z_START) / (Z_FULL - Z_START), 0.0, 1.0), nan=0.0)
        return pd.DataFrame(out, index=features.index, dtype="float64")

    def hazards(
        self, features: pd.DataFrame, *, relay_discount: bool = True, replay_discounts_intent: bool = False
    ) -> pd.DataFrame:
        """Hazard per term; ``relay_discount=False`` leaves the relay discount out of the gate, and keeps the suite
        replay's (what a cluster weighs its members by: relaying people explains an account's harvest-like shape,
        not hidden common control, while re-running an evaluation suite explains the shape of every account that
        does it, linked or not: two accounts of one eval team are no campaign).  ``replay_discounts_intent``
        discounts the intent terms by the suite replay too (a cluster's members: their reasoning requests are the
        benchmark they re-run); an account's own hazard keeps its intent in full."""
        strength = self.strengths(features)
        intent_terms = [t.feature for t in self.terms_ if t.group == "intent"]
        gate = self._term_gate(features, strength, relay=relay_discount)
        out = {}
        for term in self.terms_:
            value = strength[term.feature] * term.weight
            out[term.feature] = value if term.group == "intent" else value * gate
        hazards = pd.DataFrame(out, index=features.index, dtype="float64")
        if intent_terms:
            # cap the intent group, scaling its terms down together so each keeps its share of the explanation
            total = hazards[intent_terms].sum(axis=1)
            factor = (INTENT_CAP / total.where(total > INTENT_CAP)).fillna(1.0)
            if replay_discounts_intent:
                factor = factor * (1.0 - RELAY_DISCOUNT * self._replay(features, strength))
            hazards[intent_terms] = hazards[intent_terms].mul(factor, axis=0)
        return hazards

    def intent(self, features: pd.DataFrame) -> pd.Series:
        """The gate in [0, 1]: the strongest intent term's strength, or the evasion gate if that is higher."""
        return self._gate(features, self.strengths(features))

    def gate(self, features: pd.DataFrame, *, relay_discount: bool = True) -> pd.Series:
        """The gate the shape and infrastructure terms are multiplied by: intent, discounted by relay or replay
        evidence (``relay_discount=False``: by replay only, as :meth:`hazards`)."""
        return self._term_gate(features, self.strengths(features), relay=relay_discount)

    def relay(self, features: pd.DataFrame) -> pd.Series:
        """Evidence in [0, 1] that the account relays people's requests behind a fixed frame (an app backend)."""
        return self._relay(features, self.strengths(features))

    def evasion(self, features: pd.DataFrame) -> pd.Series:
        """The gate without words, in [0, EVASION_CAP]: harvest-shaped traffic sent from behind a disguise."""
        return self._evasion(features, self.strengths(features))

    def _gate(self, features: pd.DataFrame, strength: pd.DataFrame) -> pd.Series:
        intent_terms = [t.feature for t in self.terms_ if t.group == "intent"]
        lexical = strength[intent_terms].max(axis=1) if intent_terms else pd.Series(0.0, index=strength.index)
        return pd.Series(np.maximum(lexical, self._evasion(features, strength)), index=strength.index)

    def _term_gate(self, features: pd.DataFrame, strength: pd.DataFrame, *, relay: bool = True) -> pd.Series:
        explained = self._replay(features, strength)
        if relay:
            explained = pd.Series(np.maximum(self._relay(features, strength), explained), index=features.index)
        return self._gate(features, strength) * (1.0 - RELAY_DISCOUNT * explained)

    def replay(self, features: pd.DataFrame) -> pd.Series:
        """Evidence in [0, 1] that the account re-runs a fixed suite of prompts (an evaluation harness)."""
        return self._replay(features, self.strengths(features))

    def _replay(self, features: pd.DataFrame, strength: pd.DataFrame) -> pd.Series:
        """Most of the account's distinct prompts sent to one model again in a later run; voided, like the relay, by
        a disguise: an evaluation harness has no reason to fabricate chat histories or rotate residential exits; and
        by activity around the clock: an evaluation re-runs its suite in bursts, a harvest looping over its prompt
        pool never stops."""
        replayed = ramp(pd.Series(_column(features, "suite_replay_share"), index=features.index), *REPLAY_SHARE)
        hours = pd.Series(_column(features, "active_hours_per_active_day"), index=features.index)
        continuous = ramp(hours, *REPLAY_ROUND_THE_CLOCK)
        return (replayed * (1.0 - self._disguise(features, strength)) * (1.0 - continuous)).clip(0.0, 1.0)

    def _evasion(self, features: pd.DataFrame, strength: pd.DataFrame) -> pd.Series:
        """Prompts can be reworded until no pattern matches; the shape of a harvest (broad single-turn coverage,
        round the clock, long outputs, sweeps) sent from behind a disguise cannot.  The disguise is the stronger
        of a fabricated chat history and rotation through many addresses a day that are not cloud or VPN exits
        (residential proxy pools; an app backend's rotating cloud egress is discounted by its hosting share).
        Each alone is ordinary — eval runners and app backends have the shape, mobile users on CGNAT rotate
        addresses — so the gate opens on their product only, and never fully."""
        shape = self._group_mean(strength, "shape")
        return EVASION_CAP * ramp(shape, *EVASION_SHAPE) * ramp(self._disguise(features, strength), *EVASION_DISGUISE)

    def _disguise(self, features: pd.DataFrame, strength: pd.DataFrame) -> pd.Series:
        """The stronger of a fabricated chat history and rotation through many non-cloud addresses a day."""
        zero = pd.Series(0.0, index=strength.index)
        history = strength.get("unanchored_history_share", zero)
        rotation = strength.get("ip_distinct_per_day", zero)
        hosting = pd.Series(_column(features, "hosting_traffic_share"), index=features.index)
        return pd.Series(np.maximum(history, rotation * (1.0 - hosting.fillna(0.0).clip(0.0, 1.0))),
                         index=strength.index)  # fmt: skip

    def _relay(self, features: pd.DataFrame, strength: pd.DataFrame) -> pd.Series:
        """A product relaying its users: follow-up turns of conversations it was seen starting, or many end users.

        Follow-ups are the requests past the first user turn that the account's own first turns account for
        (``1 - single_turn_share - unanchored_history_share``), shrunk for accounts with few requests like the
        rates.  End users count when there are many and the busiest sends a small share.  The stronger of the two
        is voided by a disguise (a fabricated history or a residential proxy pool, see :meth:`_disguise`) and by
        reasoning requests concentrated in a few end users (``end_user_cot_excess``): a harvest dressed as an app
        loses the discount by the dressing.  It fades as well where follow-up turns ask for reasoning at another
        rate than first turns (``cot_depth_disparity``): elicitation written into a script's turns, not a frame.
        Accounts without turn counts or end-user ids get 0."""
        index = features.index
        counts = _column(features, "request_count")
        reliability = np.where(np.isnan(counts), 1.0, counts / (counts + PSEUDO_REQUESTS))
        followup = (1.0 - _column(features, "single_turn_share") - np.nan_to_num(
            _column(features, "unanchored_history_share"))).clip(0.0, 1.0) * reliability  # fmt: skip
        conversations = ramp(pd.Series(followup, index=index), *RELAY_FOLLOWUP)
        many = ramp(pd.Series(_column(features, "end_user_count"), index=index), *RELAY_END_USERS)
        top = ramp(pd.Series(_column(features, "end_user_top_request_share"), index=index), *RELAY_END_USER_TOP_SHARE)
        end_users = many * (1.0 - top)
        zero = pd.Series(0.0, index=strength.index)
        concentrated = strength.get("end_user_cot_excess", zero)
        scripted = ramp(pd.Series(_column(features, "cot_depth_disparity"), index=index), *RELAY_COT_DISPARITY)
        void = np.maximum(np.maximum(self._disguise(features, strength), concentrated), scripted)
        return pd.Series(np.maximum(conversations, end_users) * (1.0 - void), index=index).clip(0.0, 1.0)

    def _group_mean(self, strength: pd.DataFrame, group: Group) -> pd.Series:
        terms = [t for t in self.terms_ if t.group == group]
        if not terms:
            return pd.Series(0.0, index=strength.index)
        weights = np.array([t.weight for t in terms])
        mean: pd.Series = (strength[[t.feature for t in terms]] * weights).sum(axis=1) / weights.sum()
        return mean

    def score(self, features: pd.DataFrame) -> pd.Series:
        total = self.hazards(features).sum(axis=1).to_numpy(dtype="float64")
        return pd.Series(1.0 - np.exp(-total), index=features.index, dtype="float64")

    def term(self, feature: str) -> Term:
        for term in self.terms_:
            if term.feature == feature:
                return term
        raise KeyError(feature)
