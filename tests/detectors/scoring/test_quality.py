"""Detection-quality floors on seeded simulated populations (procedural prompts), through the pure pipeline.

Floors, not figures: the seeds are fixed so a regression shows, and every floor leaves room below what the
pipeline reaches today.  The population is every account with events in the window; campaign accounts are the
positives.  Hard negatives (eval runners, batch jobs, corporate NAT, app backends, coding agents, students,
learners) must not be flagged at the default operating point.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from app.evaluation.metrics import average_precision, campaign_recall, recall_at_fpr
from app.simulation import SimulationConfig, simulate
from app.simulation.config import PERSONA_DEFAULTS
from app.simulation.prompts import CAPABILITIES, PromptFactory
from app.simulation.shifts import CAMPAIGN_FREE, human_donors, resell
from detectors import pipeline
from detectors.baselines import baseline_scores
from detectors.events import account_frame, to_event_frame
from detectors.linking import LinkingConfig
from tests.detectors.scoring.multiturn import VARIANTS, Variant, rewrite_campaigns

pytestmark = pytest.mark.slow

SEEDS = (7, 21)
# Campaigns that coordinate (linking), harvest loudly, dress harvesting up as chats with made-up histories or
# concentrate it in a few end users of a reseller's account: most of their accounts are flagged.
FLAGGED_ARCHETYPES = ("hydra", "low_and_slow", "model_pivot", "reseller", "rubric_grader")
# Campaigns built to look like ordinary customers one account at a time: at the precision-first default they
# are ranked (above nearly every benign account) rather than flagged.  bulk's single account sits on the flag
# threshold (risk 0.80 +- 0.03 across seeds and simulator draws: its prompts carry its harness's wrapper, which
# lowers its completion/prompt token ratio), so it is held to the ranking floor, not to the coin flip.
RANKED_ARCHETYPES = ("repeated_sampling", "bulk")


# Campaigns as a large share of the window (a small tenant, a hydra of thousands): every benign persona at a
# fifth of its default size, so ~25% of the accounts with events belong to campaigns.
CAMPAIGN_HEAVY = {
    "personas": {
        **{name: {"accounts": max(1, spec["accounts"] // 5)} for name, spec in PERSONA_DEFAULTS.items()
           if "accounts" in spec},
        "corporate": {"orgs": 2}, "education": {"students": 30},
    }
}  # fmt: skip


# Every app backend's fixed system prompt asks for step-by-step reasoning (tutoring and "show your work" products),
# 100 app backends at scale 1.0 instead of 60: intent fires on every one of them as it does on a harvesting
# harness, and they relay the public round the clock from the cloud.  Seeds on which, before the relay discount,
# 4 and 6 of the 30 app backends were flagged (own scores up to 0.83).
REASONING_APPS = {"personas": {"app_backend": {"accounts": 100, "cot_system_share": 1.0}}}
REASONING_APP_SEEDS = (11, 21)


@lru_cache(maxsize=len(SEEDS) + len(REASONING_APP_SEEDS) + 2)
def detected(
    seed: int, wordless: bool = False, campaign_heavy: bool = False, reasoning_apps: bool = False
) -> tuple[pd.DataFrame, pd.Series, dict[str, str], pd.DataFrame]:
    params = CAMPAIGN_HEAVY if campaign_heavy else REASONING_APPS if reasoning_apps else {}
    population = simulate(SimulationConfig(seed=seed, scale=0.3, days=5, params=params))
    events = to_event_frame(population.events)
    if wordless:  # as if every campaign had reworded its prompts until no reasoning or grading pattern matched
        events = events.assign(cot_score=0.0, rubric_score=0.0)
    result = pipeline.run(events, account_frame(population.accounts))
    truth = population.truth
    campaign = pd.Series({a: truth["accounts"].get(a) for a in result.accounts.index}, dtype="object")
    archetype = {cid: spec["archetype"] for cid, spec in truth["campaigns"].items()}
    persona = {a: str(truth["personas"].get(a)) for a in result.accounts.index}
    accounts = result.accounts.assign(
        positive=campaign.notna().to_numpy(),
        archetype=campaign.map(archetype).to_numpy(),
        persona=[persona[a] for a in result.accounts.index],
    )
    return accounts, campaign, archetype, baseline_scores(events).reindex(accounts.index)


@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_floors(seed: int) -> None:
    accounts, _, _, _ = detected(seed)
    y, score = accounts["positive"].to_numpy(), accounts["risk_score"].to_numpy()
    assert y.sum() >= 30 and (~y).sum() >= 500
    assert average_precision(y, score) >= 0.95
    assert recall_at_fpr(y, score, 0.001) >= 0.90


@pytest.mark.parametrize("seed", SEEDS)
def test_flagged_accounts_are_campaigns_and_no_hard_negative_is_flagged(seed: int) -> None:
    accounts, _, _, _ = detected(seed)
    flagged = accounts[accounts["flagged"]]
    assert len(flagged) >= 0.6 * accounts["positive"].sum()
    assert flagged["positive"].mean() >= 0.97
    benign_flagged = flagged.loc[~flagged["positive"], "persona"].value_counts()
    assert benign_flagged.sum() <= 1, f"benign accounts flagged: {benign_flagged.to_dict()}"


@pytest.mark.parametrize("seed", SEEDS)
def test_every_campaign_archetype_is_detected(seed: int) -> None:
    accounts, campaign, archetype, _ = detected(seed)
    flagged = set(accounts.index[accounts["flagged"]])
    recall = campaign_recall(campaign.to_dict(), flagged)
    by_archetype = {archetype[c]: r for c, r in recall.items()}
    assert set(by_archetype) == set(FLAGGED_ARCHETYPES) | set(RANKED_ARCHETYPES)
    for name in FLAGGED_ARCHETYPES:
        assert by_archetype[name] >= 0.5, (name, by_archetype)
    # the others: at least half their accounts rank above 99% of benign accounts
    benign = accounts.loc[~accounts["positive"], "risk_score"]
    cutoff = float(np.quantile(benign, 0.99))
    for name in RANKED_ARCHETYPES:
        members = accounts.loc[accounts["archetype"] == name, "risk_score"]
        assert (members > cutoff).mean() >= 0.5, (name, members.round(3).tolist(), cutoff)


@pytest.mark.parametrize("seed", SEEDS)
def test_far_better_than_the_baselines(seed: int) -> None:
    accounts, _, _, baselines = detected(seed)
    y = accounts["positive"].to_numpy()
    ours = average_precision(y, accounts["risk_score"].to_numpy())
    for name in baselines.columns:
        theirs = average_precision(y, baselines[name].fillna(-np.inf).to_numpy())
        assert ours >= theirs + 0.3, (name, theirs, ours)


def test_campaigns_behind_a_disguise_are_caught_when_no_prompt_wording_is_recognised() -> None:
    """The wording of prompts is the attacker's to choose.  With every chain-of-thought and grading score blanked,
    campaigns whose accounts send harvest-shaped traffic through rotating residential addresses are still flagged
    (the prior's evasion gate, and the cluster gate it opens), and no benign account is; the ranking stays good."""
    accounts, campaign, archetype, _ = detected(SEEDS[0], wordless=True)
    y, score = accounts["positive"].to_numpy(), accounts["risk_score"].to_numpy()
    assert average_precision(y, score) >= 0.90
    flagged = accounts[accounts["flagged"]]
    assert not (~flagged["positive"]).any(), flagged.loc[~flagged["positive"], "persona"].value_counts().to_dict()
    recall = {archetype[c]: r for c, r in campaign_recall(campaign.to_dict(), set(flagged.index)).items()}
    for name in ("hydra", "model_pivot"):
        assert recall[name] >= 0.9, recall


def test_campaigns_stay_visible_when_they_are_a_large_share_of_the_population() -> None:
    """The prior's baseline is ordinary traffic: refitted without the accounts that show extraction intent, so
    campaigns that make up a quarter of the window cannot move the medians towards themselves and hide (before
    the refit, the single-account campaigns bulk and reseller fell under the threshold here)."""
    accounts, campaign, archetype, _ = detected(SEEDS[1], campaign_heavy=True)
    y, score = accounts["positive"].to_numpy(), accounts["risk_score"].to_numpy()
    assert 0.2 <= y.mean() <= 0.35, y.mean()
    assert average_precision(y, score) >= 0.95
    flagged = accounts[accounts["flagged"]]
    assert (~flagged["positive"]).sum() <= 1, flagged.loc[~flagged["positive"], "persona"].value_counts().to_dict()
    recall = {archetype[c]: r for c, r in campaign_recall(campaign.to_dict(), set(flagged.index)).items()}
    assert all(r >= 0.5 for r in recall.values()), recall


@pytest.mark.parametrize("seed", SEEDS)
def test_a_window_without_campaigns_flags_nothing(seed: int) -> None:
    """A window with no campaign at all and three times the hard negatives the SPEC names (eval runners, batch jobs,
    app backends, corporate NAT organisations): a tenant, or a day, where there is nothing to find.  The prior
    normalises against the population and linking weighs rarity within it: with no campaign to set the scale, the
    unusual benign accounts become the population's extremes.  None of them may be flagged, nor any cluster.
    Without the suite-replay discount one eval runner per seed crosses the threshold here (0.84, 0.87)."""
    population = simulate(SimulationConfig(seed=seed, scale=0.3, days=5, params=CAMPAIGN_FREE))
    assert not any(population.truth["accounts"].values())
    result = pipeline.run(to_event_frame(population.events), account_frame(population.accounts))
    personas = pd.Series(population.truth["personas"]).reindex(result.accounts.index)
    for persona, at_least in (("eval_runner", 15), ("batch_job", 5), ("app_backend", 40), ("corporate_employee", 50)):
        assert (personas == persona).sum() >= at_least, persona
    flagged = result.accounts[result.accounts["flagged"]]
    assert flagged.empty, personas[flagged.index].value_counts().to_dict()
    assert not result.clusters["flagged"].any()
    assert result.accounts["risk_score"].max() < 0.8


@pytest.mark.parametrize("seed", REASONING_APP_SEEDS)
def test_app_backends_with_a_reasoning_system_prompt_stay_unflagged_and_every_archetype_is_detected(seed: int) -> None:
    """The reasoning request of an app backend is a fixed frame in front of its users' conversations: the relay
    discount (see :mod:`detectors.scoring.prior`) keeps the harvest-shape terms from adding up on top of it, while the
    intent still ranks the apps above ordinary traffic.  No campaign archetype is lost on the same population."""
    accounts, campaign, archetype, _ = detected(seed, reasoning_apps=True)
    apps = accounts[accounts["persona"] == "app_backend"]
    assert len(apps) >= 25
    assert not apps["flagged"].any(), apps.loc[apps["flagged"], "own_score"].round(3).to_dict()
    assert apps["own_score"].max() < 0.75, apps["own_score"].round(3).tolist()  # 0.83 before the discount
    assert apps["own_score"].median() >= 0.5  # a discount, not an exemption: the reasoning request still counts
    flagged = accounts[accounts["flagged"]]
    assert (~flagged["positive"]).sum() <= 1, flagged.loc[~flagged["positive"], "persona"].value_counts().to_dict()
    recall = {archetype[c]: r for c, r in campaign_recall(campaign.to_dict(), set(flagged.index)).items()}
    assert set(recall) == set(FLAGGED_ARCHETYPES) | set(RANKED_ARCHETYPES)
    for name in FLAGGED_ARCHETYPES:
        assert recall[name] >= 0.5, recall
    cutoff = float(np.quantile(accounts.loc[~accounts["positive"], "risk_score"], 0.99))
    for name in RANKED_ARCHETYPES:
        members = accounts.loc[accounts["archetype"] == name, "risk_score"]
        assert (members > cutoff).mean() >= 0.5, (name, members.round(3).tolist(), cutoff)


@lru_cache(maxsize=4)
def detected_multi_turn(seed: int, variant: Variant) -> tuple[pd.DataFrame, pd.Series, dict[str, str]]:
    population = simulate(SimulationConfig(seed=seed, scale=0.3, days=5))
    events = to_event_frame(rewrite_campaigns(population, variant, seed))
    result = pipeline.run(events, account_frame(population.accounts))
    truth = population.truth
    campaign = pd.Series({a: truth["accounts"].get(a) for a in result.accounts.index}, dtype="object")
    archetype = {cid: spec["archetype"] for cid, spec in truth["campaigns"].items()}
    accounts = result.accounts.assign(
        positive=campaign.notna().to_numpy(), archetype=campaign.map(archetype).to_numpy(),
        persona=[str(truth["personas"].get(a)) for a in result.accounts.index],
    )  # fmt: skip
    return accounts, campaign, archetype


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_harvests_run_through_genuine_conversations_are_not_taken_for_a_relay(seed: int, variant: Variant) -> None:
    """Follow-up turns of observed conversations are relay evidence for an app, but a harvest can hold real
    conversations too: a reasoning follow-up after every task, or agent loops whose tool results come back as user
    turns (see :mod:`tests.detectors.scoring.multiturn`).  Their reasoning requests are not spread evenly over the
    turns as a fixed reasoning system prompt's are (``cot_depth_disparity``), so they keep their shape evidence:
    before that check, bulk fell from flagged to a risk of 0.66 in every case here, repeated_sampling to 0.67-0.80."""
    accounts, campaign, archetype = detected_multi_turn(seed, variant)
    flagged = accounts[accounts["flagged"]]
    assert (~flagged["positive"]).sum() <= 1, flagged.loc[~flagged["positive"], "persona"].value_counts().to_dict()
    recall = {archetype[c]: r for c, r in campaign_recall(campaign.to_dict(), set(flagged.index)).items()}
    # an agent loop's reasoning request is its task turn; the tool results sent back after it carry no words of
    # the client's and do not count towards the prompt rates (low_and_slow and reseller were lost to that dilution)
    for name in FLAGGED_ARCHETYPES:
        assert recall[name] >= 0.5, (name, recall)
    cutoff = float(np.quantile(accounts.loc[~accounts["positive"], "risk_score"], 0.99))
    for name in RANKED_ARCHETYPES:
        members = accounts.loc[accounts["archetype"] == name, "risk_score"]
        assert (members > cutoff).mean() >= 0.5, (name, members.round(3).tolist(), cutoff)
        assert members.median() >= 0.75, (name, members.round(3).tolist())


# A hydra at the reported ~26 requests per account per day with nothing shared: every account its own card and its
# own residential address, and its own client build, sampling parameters and prompt wrapper (harness_variation 1).
# What is left in common is behaviour: sign-ups within hours, and the operator's job runner's 15-minute ticks.
QUIET_HYDRA = {
    "campaigns": {
        "hydra": {"accounts": 240, "requests_per_day": 26.0, "proxy_pool": 0, "payment_cards": 240,
                  "harness_variation": 1.0},
    }
}  # fmt: skip


def test_a_quiet_hydra_with_nothing_shared_is_linked_by_its_schedulers_clock() -> None:
    """Its accounts, near the flag threshold one by one (extraction wording at under one request per tick), are
    flagged as one cluster once the shared scheduler clock proposes their pairs and the sign-up burst confirms
    them; with the schedule kind switched off the crew falls apart.  No benign account is flagged either way."""
    population = simulate(SimulationConfig(seed=7, scale=0.3, days=5, params=QUIET_HYDRA))
    events, accounts = to_event_frame(population.events), account_frame(population.accounts)
    members = {a for a, c in population.truth["accounts"].items()
               if c is not None and population.truth["campaigns"][c]["archetype"] == "hydra"}  # fmt: skip
    campaign = {a for a, c in population.truth["accounts"].items() if c is not None}
    recall = {}
    for weight in (0.0, LinkingConfig().kind_weight("schedule")):
        config = pipeline.PipelineConfig(
            linking=LinkingConfig(kind_weights={**LinkingConfig().kind_weights, "schedule": weight})
        )
        result = pipeline.run(events, accounts, config=config)
        flagged = set(result.accounts.index[result.accounts["flagged"].to_numpy(dtype=bool)])
        assert flagged <= campaign, sorted(flagged - campaign)
        recall[weight] = len(flagged & members) / len(members)
    assert len(members) >= 60
    assert recall[0.0] <= 0.3, recall
    assert recall[LinkingConfig().kind_weight("schedule")] >= 0.7, recall


def test_campaign_accounts_that_also_carry_customers_traffic_are_detected() -> None:
    """A reseller network runs the multi-account campaigns through accounts that also carry ordinary customers'
    requests, 60% of each account's traffic (``app.simulation.shifts.resell``).  The harness kinds count the
    crew's shared request shape and wrapper as a habit on 40% of the traffic, as much as on all of it: every
    archetype is detected.  Counting them by their share (``harness_habit_share=1``, as before) left low_and_slow
    at 0.44 and repeated_sampling at 0.5.  No benign account is flagged either way."""
    population = simulate(SimulationConfig(seed=7, scale=0.3, days=5))
    donors, _ = human_donors(1007, scale=1.2, days=5)
    events, ran_out = resell(to_event_frame(population.events), population.truth, donors, np.random.default_rng([7, 1]))
    assert not ran_out
    accounts = account_frame(population.accounts)
    campaign = pd.Series({a: c for a, c in population.truth["accounts"].items() if c is not None}, dtype="object")
    archetype = {cid: spec["archetype"] for cid, spec in population.truth["campaigns"].items()}
    recall = {}
    for habit in (1.0, LinkingConfig().harness_habit_share):
        config = pipeline.PipelineConfig(linking=LinkingConfig(harness_habit_share=habit))
        result = pipeline.run(events, accounts, config=config)
        flagged = set(result.accounts.index[result.accounts["flagged"].to_numpy(dtype=bool)])
        assert flagged <= set(campaign.index), sorted(flagged - set(campaign.index))
        recall[habit] = {archetype[c]: r for c, r in campaign_recall(campaign.to_dict(), flagged).items()}
    assert min(recall[LinkingConfig().harness_habit_share].values()) >= 0.9, recall
    assert recall[1.0]["low_and_slow"] <= 0.6, recall


def test_a_harvest_looping_over_a_small_prompt_pool_is_not_taken_for_a_suite_rerun(tmp_path: Path) -> None:
    """With only 400 distinct distillation prompts to draw from (a generated corpus: ``corpus_item`` walks it
    modulo its size), bulk's single account comes back to most of its prompts hours later, as an eval runner
    re-running its suite does.  It does so around the clock, not in bursts: its suite-replay evidence is void and
    it ranks above every benign account.  Without that (the replay discount in full) it fell below an eval runner
    (0.66 against 0.70).  The eval runners keep theirs and nothing benign is flagged."""
    rng, factory, texts = np.random.default_rng(0), PromptFactory(), dict[str, None]()
    while len(texts) < 400:
        texts[factory.instruction(rng, CAPABILITIES[len(texts) % len(CAPABILITIES)])] = None
    (tmp_path / "distill_pool.jsonl").write_bytes(b"".join(orjson.dumps({"text": t}) + b"\n" for t in texts))
    population = simulate(SimulationConfig(seed=7, scale=0.3, days=5, corpus=tmp_path))
    result = pipeline.run(to_event_frame(population.events), account_frame(population.accounts))
    truth = population.truth
    archetype = {cid: spec["archetype"] for cid, spec in truth["campaigns"].items()}
    accounts = result.accounts.join(result.inputs[["suite_replay_share"]])
    who = pd.Series([archetype.get(truth["accounts"].get(a)) or f"~{truth['personas'].get(a)}"
                     for a in accounts.index], index=accounts.index)  # fmt: skip
    bulk = accounts[(who == "bulk").to_numpy()]
    benign = accounts[who.str.startswith("~").to_numpy()]
    assert len(bulk) == 1 and bulk["suite_replay_share"].iloc[0] >= 0.5
    assert float(bulk["risk_score"].iloc[0]) > float(benign["risk_score"].max())
    runners = benign[(who[benign.index] == "~eval_runner").to_numpy()]
    assert (runners["suite_replay_share"] >= 0.5).mean() >= 0.5
    assert result.scores.accounts.loc[runners.index[runners["suite_replay_share"] >= 0.5], "replay"].min() > 0.9
    assert not benign["flagged"].any(), who[benign.index[benign["flagged"]]].value_counts().to_dict()
