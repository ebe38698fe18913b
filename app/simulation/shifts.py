"""Shifts of a simulated population that the simulator itself does not draw, for robustness checks.

``resell``: a proxy or reseller network runs a campaign through accounts that also carry ordinary customers'
requests (SPEC: one network "mixed distillation traffic with ordinary customers' requests").  Each account of the
chosen campaign archetypes gets whole streams of human users from a campaign-free donor population
(:func:`human_donors`, another seed) as its customers' traffic, re-keyed to the account and sent from the account's
own addresses and API key with the customers' own clients, prompts and timing.

``HARD_NEGATIVES`` / ``CAMPAIGN_FREE``: simulation parameters with three times the hard negatives the SPEC names
(eval runners, batch jobs, app backends, corporate NAT organisations), with the campaigns or without any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from app.simulation.config import CAMPAIGN_DEFAULTS, PERSONA_DEFAULTS, SimulationConfig
from app.simulation.population import simulate
from detectors.events import to_event_frame

HUMAN_PERSONAS = ("casual", "learner")
# the multi-account campaigns (bulk is one account; the reseller archetype already mixes in its customers)
RESOLD = ("hydra", "low_and_slow", "rubric_grader", "repeated_sampling", "model_pivot")
RESELLER_CUSTOMER_SHARE = 0.6  # of a re-sold account's requests, its ordinary customers' share
HARD_NEGATIVES: dict[str, Any] = {
    "personas": {
        "eval_runner": {"accounts": 3 * PERSONA_DEFAULTS["eval_runner"]["accounts"]},
        "batch_job": {"accounts": 3 * PERSONA_DEFAULTS["batch_job"]["accounts"]},
        "app_backend": {"accounts": 3 * PERSONA_DEFAULTS["app_backend"]["accounts"]},
        "corporate": {"orgs": 3 * PERSONA_DEFAULTS["corporate"]["orgs"]},
    }
}  # fmt: skip
NO_CAMPAIGNS: dict[str, Any] = {"campaigns": {name: {"enabled": False} for name in CAMPAIGN_DEFAULTS}}
CAMPAIGN_FREE: dict[str, Any] = {**HARD_NEGATIVES, **NO_CAMPAIGNS}


def human_donors(seed: int, *, scale: float, days: float) -> tuple[pd.DataFrame, dict[str, str]]:
    """Human chat traffic (casual and learner personas only, no campaign) of ``seed``: the event frame and each
    account's persona."""
    params = {"personas": {name: {"enabled": name in HUMAN_PERSONAS} for name in PERSONA_DEFAULTS}, **NO_CAMPAIGNS}
    population = simulate(SimulationConfig(seed=seed, scale=scale, days=days, params=params))
    return to_event_frame(population.events), population.truth["personas"]


def resell(
    events: pd.DataFrame,
    truth: dict[str, Any],
    donors: pd.DataFrame,
    rng: np.random.Generator,
    *,
    archetypes: Sequence[str] = RESOLD,
    customer_share: float = RESELLER_CUSTOMER_SHARE,
) -> tuple[pd.DataFrame, bool]:
    """Each account of the ``archetypes`` campaigns carries whole donor users' streams, ``customer_share`` of its
    requests in all.  Returns the new event frame (time-ordered) and whether the donors ran out."""
    archetype = {cid: spec["archetype"] for cid, spec in truth["campaigns"].items()}
    resold = [a for a, c in truth["accounts"].items() if c is not None and archetype[c] in archetypes]
    own = events[events["account_id"].isin(resold)]
    by_donor = {str(a): g for a, g in donors.groupby("account_id", sort=True)}
    queue = [by_donor[a] for a in rng.permutation(sorted(by_donor))]
    parts = [events]
    for account, group in own.groupby("account_id", sort=True):
        need = len(group) * customer_share / (1.0 - customer_share)
        taken: list[pd.DataFrame] = []
        while queue and sum(len(t) for t in taken) < need:
            taken.append(queue.pop())
        if not taken:
            break
        customers = pd.concat(taken, ignore_index=True)
        ips = group["ip"].dropna().to_numpy()
        customers = customers.assign(
            account_id=account, api_key_id=group["api_key_id"].mode().iloc[0] if group["api_key_id"].notna().any()
            else None, org_id=group["org_id"].iloc[0], end_user_id=None,
            ip=rng.choice(ips, size=len(customers)) if len(ips) else None,
            request_id="resold-" + customers["request_id"].astype(str),
        )  # fmt: skip
        parts.append(customers.astype(events.dtypes.to_dict()))
    mixed = pd.concat(parts, ignore_index=True).sort_values(["ts", "request_id"], ignore_index=True)
    return mixed, not queue
