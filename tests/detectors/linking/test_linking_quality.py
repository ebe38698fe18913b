"""Quality floors on seeded simulated populations (the simulator issue's campaigns and hard negatives).

Floors, not figures copied from a run:

* every campaign falls at least 90% into one cluster, whatever its archetype: the accounts of one operation share
  its harness (client build, exact request parameters, prompt wrapper) even when they share no card, IP or clock,
  and the harness kinds (:mod:`detectors.linking.request_shape`, :mod:`detectors.linking.wrappers`) link them;
* clusters of two or more accounts that contain a campaign account are at least 95% one campaign;
* no member of a benign group (corporate NAT org, education org, carrier-grade NAT pool) is in a cluster with a
  campaign account; benign multi-account clusters (an org) may exist and are labelled by ``same_org_share``.

The one exception is explicit (:data:`EVASIVE_UNLINKABLE`): in the evasive preset every account re-draws each part of
its crew's harness with probability 0.3, and the crews that have nothing else in common (each account its own
card, home or cloud IP and clock: ``low_and_slow``, ``repeated_sampling``) then leave some accounts with no
evidence of common control at all.  Note too that a crew whose harness happens to use only common settings (a
stock SDK client, ``max_tokens=4096`` and nothing else) is indistinguishable from strangers by construction; the
seeds below draw harnesses with at least one uncommon choice (see the linking report for a seed sweep).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from app.simulation import SimulationConfig, simulate
from app.simulation.config import PRESETS
from detectors.events import Retention, account_frame, to_event_frame
from detectors.features.topics import TopicModel
from detectors.linking import Linking, link_accounts

pytestmark = pytest.mark.slow  # four simulated populations, about 25 s of CPU

SEEDS = (11, 23)
# Evasive preset: archetypes exempt from the 0.9 floor (see the module docstring).  Their accounts share no card,
# IP, proxy pool or clock, and each re-draws its client, request parameters and wrapper with probability 0.3, so
# whether any two of them still share a harness fingerprint is down to the draw; when the crew's own harness is
# made of common settings there is nothing to link at all.  Purity and the benign-group checks still apply.
EVASIVE_UNLINKABLE: frozenset[str] = frozenset({"low_and_slow", "repeated_sampling"})
# (seed, simulator preset): the default mix twice, and once with every archetype tuned to evade
POPULATIONS = ((SEEDS[0], "default"), (SEEDS[1], "default"), (31, "evasive"))


def _population(seed: int, retention: Retention = "full", preset: str = "default") -> dict[str, Any]:
    population = simulate(SimulationConfig(seed=seed, scale=0.2, days=5, params=PRESETS[preset]))
    events = to_event_frame(population.events, retention)
    accounts = account_frame(population.accounts)
    topics = TopicModel(n_topics=24).fit(events).transform_events(events) if retention != "none" else None
    linking = link_accounts(events, accounts, topics=topics)
    return {"events": events, "accounts": accounts, "truth": population.truth, "linking": linking, "preset": preset}


@pytest.fixture(scope="module", params=POPULATIONS, ids=[f"{seed}-{preset}" for seed, preset in POPULATIONS])
def simulated(request: pytest.FixtureRequest) -> dict[str, Any]:
    seed, preset = request.param
    return _population(seed, preset=preset)


def _campaigns(truth: dict[str, Any]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for account, campaign in truth["accounts"].items():
        if campaign is not None and account not in set(truth.get("dormant", [])):
            members.setdefault(campaign, []).append(account)
    return members


def _one_cluster_shares(linking: Linking, truth: dict[str, Any]) -> dict[str, float]:
    """Campaign → share of its accounts in its largest cluster (campaigns of two or more active accounts)."""
    labels = linking.clusters["cluster_label"]
    return {
        campaign: float(labels[members].value_counts().iloc[0] / len(members))
        for campaign, members in _campaigns(truth).items()
        if len(members) >= 2
    }


def test_every_campaign_falls_into_one_cluster(simulated: dict[str, Any]) -> None:
    shares = _one_cluster_shares(simulated["linking"], simulated["truth"])
    exempt = EVASIVE_UNLINKABLE if simulated["preset"] == "evasive" else frozenset()
    checked = 0
    for campaign, share in shares.items():
        if simulated["truth"]["campaigns"][campaign]["archetype"] in exempt:
            continue
        assert share >= 0.9, f"{campaign}: only {share:.0%} of its accounts in one cluster"
        checked += 1
    # default mix: every multi-account archetype (hydra, low_and_slow, rubric_grader, repeated_sampling,
    # model_pivot; reseller and bulk have one account at this scale); evasive: hydra, rubric_grader, model_pivot
    assert checked >= (3 if exempt else 5)


def test_clusters_with_campaign_accounts_are_pure(simulated: dict[str, Any]) -> None:
    linking: Linking = simulated["linking"]
    labels = linking.clusters["cluster_label"]
    campaign_of = pd.Series(simulated["truth"]["accounts"]).reindex(labels.index).fillna("benign")
    sizes = labels.value_counts()
    for label in sizes[sizes >= 2].index:
        members = campaign_of[labels == label]
        if (members != "benign").any():
            purity = members.value_counts().iloc[0] / len(members)
            assert purity >= 0.95, f"cluster {label}: {dict(members.value_counts())}"


def test_no_benign_group_is_merged_into_a_campaign_cluster(simulated: dict[str, Any]) -> None:
    linking: Linking = simulated["linking"]
    labels = linking.clusters["cluster_label"]
    truth = simulated["truth"]
    campaign_of = pd.Series(truth["accounts"]).reindex(labels.index)
    group_of = pd.Series(truth["groups"]).reindex(labels.index)
    campaign_clusters = set(labels[campaign_of.notna()])
    grouped = labels[group_of.notna()]
    assert grouped.size > 0
    assert not set(grouped) & campaign_clusters


def test_organisations_cluster_as_organisations(simulated: dict[str, Any]) -> None:
    linking: Linking = simulated["linking"]
    features = linking.cluster_features
    orgs = features[(features["size"] >= 3) & (features["same_org_share"] >= 0.9)]
    assert len(orgs) >= 1
    campaign_of = pd.Series(simulated["truth"]["accounts"])
    labels = linking.clusters["cluster_label"]
    for label in orgs.index:
        assert campaign_of.reindex(labels.index[labels == label]).isna().all()


def test_the_largest_campaign_cluster_explains_itself(simulated: dict[str, Any]) -> None:
    linking: Linking = simulated["linking"]
    labels = linking.clusters["cluster_label"]
    campaign_of = pd.Series(simulated["truth"]["accounts"]).reindex(labels.index)
    biggest = labels[campaign_of.notna()].value_counts().index[0]
    texts = " / ".join(entry["text"] for entry in linking.evidence[biggest])
    assert "IP" in texts, texts
    # the evasive crew gives most accounts their own card (a few pairs share one): its harness and IP pool, which
    # all its accounts share, outweigh those few pairs, and the evidence leaves out a kind under 5% of the weight
    assert "payment fingerprint" in texts or simulated["preset"] == "evasive", texts
    row = linking.cluster_features.loc[biggest]
    assert row["union_topic_coverage"] >= 3
    assert row["total_requests"] > 0 and row["signup_spread_hours"] >= 0


def test_linking_without_prompt_text_still_holds_the_floors() -> None:
    population = _population(SEEDS[0], retention="none")
    labels = population["linking"].clusters["cluster_label"]
    truth = population["truth"]
    campaign_of = pd.Series(truth["accounts"]).reindex(labels.index).fillna("benign")
    for campaign, share in _one_cluster_shares(population["linking"], truth).items():
        assert share >= 0.9, campaign
    sizes = labels.value_counts()
    for label in sizes[sizes >= 2].index:
        members = campaign_of[labels == label]
        if (members != "benign").any():
            assert members.value_counts().iloc[0] / len(members) >= 0.95
