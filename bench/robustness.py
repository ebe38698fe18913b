"""Detection under shifts the simulator's defaults do not show: reworded prompts, campaign-heavy windows and the
shapes public reports give real campaigns and benign traffic (SPEC, "What the threat looks like").

    .venv/bin/python bench/robustness.py                        # seeds 7 and 21, scale 0.3, 5 days
    .venv/bin/python bench/robustness.py --seeds 7 11 21 --preset evasive
    .venv/bin/python bench/robustness.py --variants human-prompts no-shared-infra
    .venv/bin/python bench/robustness.py --corpus ../shared/corpora/dev --variants one-shot-apps

Each seeded population runs through the pure pipeline (as ``tests/detectors/scoring/test_quality.py`` does) in
these variants:

* ``as simulated`` — the population as the simulator draws it;
* ``wordless`` — every chain-of-thought and grading score blanked, as if each campaign had reworded its prompts
  until no pattern matched: what is left is traffic shape, infrastructure and coordination;
* ``campaign-heavy`` — every benign persona at a fifth of its size, so campaigns are ~25% of the accounts and
  weigh on the population baseline the prior normalises against;
* ``spec-volume`` — every campaign at the reported ~26 requests per account per day (a reseller's harvesting stream
  at 26 a day besides its customers) with three times as many accounts: volume no longer sets campaigns apart;
* ``reseller-mixed`` — each account of the multi-account campaigns (not bulk, not the reseller archetype, which
  already does this) also carries ordinary customers' traffic, 60% of its requests: whole benign users' request
  streams from a campaign-free population of another seed, re-keyed to the account, sent from the account's own
  addresses and API key with the customers' own clients, prompts and timing;
* ``no-shared-infra`` — no shared payment, addresses or mail domain: every campaign account has its own card, its
  own residential address (in its country) for all its requests and a webmail domain, so what is left is
  behaviour (timing, prompts, harness, sign-up dates);
* ``harness-random`` — every account re-draws its whole harness (client build and user agent, sampling parameters,
  prompt wrapper) for itself (``harness_variation`` 1);
* ``human-prompts`` — every campaign request's prompt (all columns ingest derives from it, and ``prompt_tokens``)
  swapped with a distinct human-chat request (casual and learner personas) of a campaign-free population of
  another seed: the campaign harvests with chat-like prompts, no elicitation wording, no shared question pool;
* ``hard-negatives`` — three times the eval runners, enterprise batch jobs, corporate NAT organisations and app
  backends;
* ``one-shot-apps`` — 100 app backends (at scale 1) whose fixed system prompt asks for step-by-step reasoning,
  each relaying single-turn questions without end-user ids: a relay with nothing that shows it;
* ``campaign-free`` — no campaign at all, and ``hard-negatives``' three times the eval runners, batch jobs, app
  backends and corporate NAT organisations: a window with nothing to find (AP and recall are undefined: ``nan``);
* ``combined`` — ``spec-volume``, ``no-shared-infra`` and ``harness-random`` at once: many quiet accounts with
  nothing shared but their prompts' wording and their timing.

The donor population (``reseller-mixed``, ``human-prompts``) is simulated with seed ``seed + 1000`` at four
times the scale, campaigns off, so no customer or donor prompt is shared with an account of the population itself.

It prints, per variant, the account-level average precision, recall at FPR ≤ 0.1%, the flagged set (and how many
of it are benign, by persona) and each campaign archetype's member recall.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.evaluation.metrics import average_precision, campaign_recall, recall_at_fpr
from app.simulation import PRESETS, SimulationConfig, merge_params, simulate
from app.simulation.config import CAMPAIGN_DEFAULTS, PERSONA_DEFAULTS
from app.simulation.draw import hex_id, rng_for
from app.simulation.network import IpSpace
from app.simulation.personas import webmail
from app.simulation.shifts import CAMPAIGN_FREE, HARD_NEGATIVES, HUMAN_PERSONAS, human_donors, resell
from detectors import pipeline
from detectors.events import DERIVED_COLUMNS, account_frame, to_event_frame

CAMPAIGN_HEAVY = {
    "personas": {
        **{name: {"accounts": max(1, spec["accounts"] // 5)} for name, spec in PERSONA_DEFAULTS.items()
           if "accounts" in spec},
        "corporate": {"orgs": 2}, "education": {"students": 30},
    }
}  # fmt: skip
SPEC_VOLUME = {
    "campaigns": {
        name: {"accounts": 3 * spec["accounts"],
               "requests_per_day": 26.0 / (1.0 - spec["cover_share"]) if name == "reseller" else 26.0}
        for name, spec in CAMPAIGN_DEFAULTS.items()
    }
}  # fmt: skip
NO_SHARED_INFRA = {
    "campaigns": {
        name: {"proxy_pool": 0, "payment_cards": spec["accounts"], "shared_company": False}
        for name, spec in CAMPAIGN_DEFAULTS.items()
    }
}  # fmt: skip
HARNESS_RANDOM = {"campaigns": {name: {"harness_variation": 1.0} for name in CAMPAIGN_DEFAULTS}}
# app backends whose product asks every request for step-by-step reasoning (tutoring, "show your work") and that
# relay one-shot questions without end-user ids: no follow-up, no end user, so nothing shows it is a relay
ONE_SHOT_APPS = {
    "personas": {
        "app_backend": {"accounts": 100, "cot_system_share": 1.0, "end_user_id_share": 0.0, "followups": 0.0},
    }
}  # fmt: skip
VARIANT_PARAMS: dict[str, dict[str, Any]] = {
    "campaign-heavy": CAMPAIGN_HEAVY, "spec-volume": SPEC_VOLUME, "no-shared-infra": NO_SHARED_INFRA,
    "harness-random": HARNESS_RANDOM, "hard-negatives": HARD_NEGATIVES, "one-shot-apps": ONE_SHOT_APPS,
    "campaign-free": CAMPAIGN_FREE, "combined": merge_params(SPEC_VOLUME, NO_SHARED_INFRA, HARNESS_RANDOM),
}  # fmt: skip
VARIANTS = (
    "as simulated", "wordless", "campaign-heavy", "spec-volume", "reseller-mixed", "no-shared-infra",
    "harness-random", "human-prompts", "hard-negatives", "one-shot-apps", "campaign-free", "combined",
)  # fmt: skip


def donor_population(seed: int, args: argparse.Namespace) -> tuple[pd.DataFrame, dict[str, str]]:
    """Human chat traffic of another seed (campaign-free, casual and learner personas only): event frame and each
    account's persona."""
    return human_donors(seed + 1000, scale=4 * args.scale, days=args.days)


def resold(events: pd.DataFrame, truth: dict[str, Any], donors: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Each account of the multi-account campaigns carries whole donor users' streams as its customers' traffic."""
    mixed, ran_out = resell(events, truth, donors, rng)
    if ran_out:
        print("  (reseller-mixed: donor users ran out)", file=sys.stderr)
    return mixed


def human_prompts(
    events: pd.DataFrame, truth: dict[str, Any], donors: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Every campaign request's prompt-derived columns replaced by those of a distinct donor request."""
    is_campaign = events["account_id"].map(lambda a: truth["accounts"].get(a) is not None).to_numpy(dtype=bool)
    rows = np.flatnonzero(is_campaign)
    replace = len(donors) < len(rows)
    if replace:
        print(f"  (human-prompts: {len(donors)} donor prompts for {len(rows)} requests, drawn with replacement)",
              file=sys.stderr)  # fmt: skip
    picked = rng.choice(len(donors), size=len(rows), replace=replace)
    out = events.copy()
    for column in (*DERIVED_COLUMNS, "prompt_tokens"):
        values = donors[column].to_numpy()[picked]
        out.loc[out.index[rows], column] = pd.array(values, dtype=events[column].dtype)
    return out


def isolate(
    events: pd.DataFrame, accounts: pd.DataFrame, truth: dict[str, Any], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Campaign accounts with their own card, their own residential address and a webmail domain each."""
    ips = IpSpace(rng_for(seed, "ip-space"))  # the population's address space; keep clear of its used addresses
    ips.used.update(str(ip) for ip in events["ip"].dropna().unique())
    rng = np.random.default_rng([seed, 2])
    members = sorted(a for a, c in truth["accounts"].items() if c is not None and a in accounts.index)
    accounts = accounts.copy()
    address: dict[str, str] = {}
    for account in members:
        country = accounts.at[account, "country"]
        country = "US" if pd.isna(country) else str(country)
        address[account] = ips.residential_ip(rng, country)
        accounts.at[account, "payment_fingerprint"] = hex_id(rng, "pm_", 8)
        accounts.at[account, "email_domain"] = webmail(rng, country)
    own = events["account_id"].map(address)
    events = events.assign(ip=own.where(own.notna(), events["ip"]).astype(events["ip"].dtype))
    return events, accounts


Donors = dict[int, tuple[pd.DataFrame, dict[str, str]]]


def build(
    seed: int, variant: str, args: argparse.Namespace, donors: Donors
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The variant's (event frame, account frame, ground truth) for ``seed``."""
    params = merge_params(PRESETS[args.preset], VARIANT_PARAMS.get(variant, {}))
    population = simulate(SimulationConfig(seed=seed, scale=args.scale, days=args.days, corpus=args.corpus,
                                           params=params))  # fmt: skip
    truth = population.truth
    events = to_event_frame(population.events)
    accounts = account_frame(population.accounts)
    rng = np.random.default_rng([seed, 1])
    if variant == "wordless":
        events = events.assign(cot_score=0.0, rubric_score=0.0)
    elif variant in ("reseller-mixed", "human-prompts"):
        if seed not in donors:
            donors[seed] = donor_population(seed, args)
        frame, persona = donors[seed]
        if variant == "reseller-mixed":
            events = resold(events, truth, frame, rng)
        else:
            human = frame[frame["account_id"].map(persona).isin(HUMAN_PERSONAS).to_numpy(dtype=bool)]
            events = human_prompts(events, truth, human.reset_index(drop=True), rng)
    elif variant in ("no-shared-infra", "combined"):
        events, accounts = isolate(events, accounts, truth, seed)
    return events, accounts, truth


def measure(seed: int, variant: str, args: argparse.Namespace, donors: Donors) -> dict[str, object]:
    events, accounts, truth = build(seed, variant, args, donors)
    result = pipeline.run(events, accounts)
    campaign = pd.Series({a: truth["accounts"].get(a) for a in result.accounts.index}, dtype="object")
    archetype = {cid: spec["archetype"] for cid, spec in truth["campaigns"].items()}
    y = campaign.notna().to_numpy()
    score = result.accounts["risk_score"].to_numpy()
    flagged = set(result.accounts.index[result.accounts["flagged"].to_numpy(dtype=bool)])
    recall = {archetype[c]: r for c, r in campaign_recall(campaign.to_dict(), flagged).items()}
    benign = flagged - set(campaign.dropna().index)
    is_campaign = events["account_id"].map(lambda a: truth["accounts"].get(a) is not None).to_numpy(dtype=bool)
    personas = pd.Series([truth["personas"].get(a, "?") for a in sorted(benign)], dtype="object").value_counts()
    return {
        "accounts": len(y), "campaign_share": float(np.mean(y)), "ap": average_precision(y, score),
        "recall_at_0.1%": recall_at_fpr(y, score, 0.001) if y.any() else float("nan"), "flagged": len(flagged),
        "benign_flagged": len(benign), "benign_personas": personas.to_dict(), "recall": recall,
        "campaign_rate": float(is_campaign.sum() / max(y.sum(), 1) / args.days),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 21])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--days", type=float, default=5.0)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument(
        "--corpus", type=Path, default=None,
        help="prompt corpus directory for the population (default: procedural prompts; the donor populations of "
             "reseller-mixed and human-prompts stay procedural)",
    )  # fmt: skip
    args = parser.parse_args()
    donors: Donors = {}
    print(f"{'variant':<15} {'seed':>4} {'accounts':>8} {'camp.':>6} {'AP':>6} {'R@0.1%':>7} {'flagged':>8} "
          f"{'benign':>6}  campaigns flagged (member recall); benign flagged by persona")  # fmt: skip
    for variant in args.variants:
        for seed in args.seeds:
            started, cpu = time.perf_counter(), time.process_time()
            row = measure(seed, variant, args, donors)
            recall, personas = row["recall"], row["benign_personas"]
            assert isinstance(recall, dict) and isinstance(personas, dict)
            detail = " ".join(f"{name}={value:.2f}" for name, value in sorted(recall.items()))
            benign = " ".join(f"{name}:{count}" for name, count in personas.items()) or "-"
            print(f"{variant:<15} {seed:>4} {row['accounts']:>8} {row['campaign_share']:>6.1%} {row['ap']:>6.3f} "
                  f"{row['recall_at_0.1%']:>7.3f} {row['flagged']:>8} {row['benign_flagged']:>6}  {detail}; {benign}; "
                  f"{row['campaign_rate']:.0f} campaign req/account/day  "
                  f"({time.perf_counter() - started:.0f} s, {time.process_time() - cpu:.0f} s CPU)",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
