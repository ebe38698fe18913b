"""What to simulate: seed, size, window, text and IP sources, and every persona/archetype knob.

``params`` overrides the defaults below, e.g. (as ``--config params.json``)::

    {"campaigns": {"hydra": {"accounts": 200, "proxy_pool": 2000, "cover_share": 0.3},
                   "bulk": {"enabled": false},
                   "hydra-b": {"archetype": "hydra", "accounts": 40, "payment_cards": 40}},
     "personas": {"casual": {"accounts": 3000}, "learner": {"enabled": false}}}

A campaign key that is not an archetype name needs an ``archetype``; it then starts from that
archetype's defaults.  ``accounts`` counts are at scale 1.0 and are multiplied by ``scale``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

PERSONA_DEFAULTS: dict[str, dict[str, Any]] = {
    "casual": {"accounts": 2200, "mobile_share": 0.35, "ipv6_share": 0.1, "household_share": 0.05,
               "power_user_share": 0.1, "new_signup_share": 0.03},
    "app_backend": {"accounts": 60, "requests_per_day": 45, "cot_system_share": 0.2, "end_user_id_share": 0.3,
                    "followups": 0.6},
    "batch_job": {"accounts": 8, "requests_per_day": 550, "corpus_template_share": 0.5},
    "eval_runner": {"accounts": 25, "questions": 200, "runs": 2, "new_model_share": 0.5, "cot_share": 0.5,
                    "judge_share": 0.25, "pass_at_k_share": 0.2, "shared_benchmarks": 3},
    "corporate": {"orgs": 5, "employees": 45, "coding_share": 0.25, "onboarding_in_window": 1},
    "coding_agent": {"accounts": 100, "sessions_per_week": 6},
    "learner": {"accounts": 60, "requests_per_day": 18},
    "education": {"orgs": 1, "students": 150, "signup_hours": 36, "campus_ips": 2},
}  # fmt: skip

# Common campaign knobs: accounts, requests_per_day (per account), jitter_s (timing noise),
# proxy_pool (rotating residential exits, 0 = none), cover_share (human-looking requests),
# cot_share (chain-of-thought elicitation), payment_cards (distinct cards across accounts),
# client_mix (client software the operator's harness is built on, "script" unless given: see
# :mod:`app.simulation.harness`), harness_variation (chance that an account re-draws each part of the crew's
# harness for itself: client build, request parameters, prompt wrapper; 0 = one harness for all).
CAMPAIGN_DEFAULTS: dict[str, dict[str, Any]] = {
    "bulk": {
        "description": "one account on a cloud IP harvesting instruction-style chain-of-thought answers 24/7",
        "accounts": 1, "min_accounts": 1, "requests_per_day": 1500, "jitter_s": 2.0, "proxy_pool": 0,
        "cover_share": 0.0, "cot_share": 0.8, "payment_cards": 1,
    },
    "hydra": {
        "description": "many sign-up-burst accounts on a rotating residential proxy pool, topic-sharded prompts, "
                       "shared payment cards, loosely synchronised ticks, banned accounts replaced mid-window",
        "accounts": 80, "min_accounts": 4, "requests_per_day": 40, "jitter_s": 120.0, "proxy_pool": 400,
        "cover_share": 0.1, "cot_share": 0.6, "payment_cards": 6, "signup_burst_hours": 6.0, "tick_minutes": 15.0,
        "active_hours": 16.0, "replacement_share": 0.3,
    },
    "low_and_slow": {
        "description": "accounts that mimic human rhythm from home IPs and wrap chain-of-thought requests in fake "
                       "multi-turn conversations",
        "accounts": 30, "min_accounts": 3, "requests_per_day": 22, "jitter_s": 600.0, "proxy_pool": 0,
        "cover_share": 0.25, "cot_share": 0.5, "payment_cards": 30, "fake_history_share": 0.7,
        "client_mix": "desktop",
    },
    "reseller": {
        "description": "a reseller backend mixing genuine customers' traffic with distillation traffic",
        "accounts": 3, "min_accounts": 1, "requests_per_day": 700, "jitter_s": 30.0, "proxy_pool": 0,
        "cover_share": 0.65, "cot_share": 0.6, "payment_cards": 1, "client_mix": "server",
        # one company: its e-mail domain and cloud provider on every account (False: each its own)
        "shared_company": True,
    },
    "rubric_grader": {
        "description": "the model used as a reward model: rubric / pairwise grading prompts at volume",
        "accounts": 8, "min_accounts": 2, "requests_per_day": 90, "jitter_s": 60.0, "proxy_pool": 100,
        "cover_share": 0.1, "cot_share": 0.3, "payment_cards": 2, "rubric_share": 0.7,
    },
    "repeated_sampling": {
        "description": "the same reasoning question sampled many times at temperature 1",
        "accounts": 6, "min_accounts": 2, "requests_per_day": 100, "jitter_s": 20.0, "proxy_pool": 0,
        "cover_share": 0.05, "cot_share": 0.7, "payment_cards": 6, "samples_per_question": 12, "temperature": 1.0,
        "client_mix": {"async-python": 1.0},
    },
    "model_pivot": {
        "description": "chain-of-thought harvesting that moves to the newly released model within hours",
        "accounts": 15, "min_accounts": 2, "requests_per_day": 50, "jitter_s": 90.0, "proxy_pool": 150,
        "cover_share": 0.1, "cot_share": 0.6, "payment_cards": 3, "pivot_hours": 6.0, "pivot_share": 0.75,
        "pivot_rate_multiplier": 1.5,
    },
}  # fmt: skip
ARCHETYPES = tuple(CAMPAIGN_DEFAULTS)

# Named parameter sets for harder populations (``--preset``); ``--config`` overrides on top.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # every archetype closer to benign behaviour on the features that give it away by default; the crews that pass
    # for separate people (low_and_slow, repeated_sampling, reseller) also re-draw parts of their harness (client,
    # request parameters, wrapper) per account
    "evasive": {
        "campaigns": {
            "bulk": {"enabled": False},
            "hydra": {"jitter_s": 1800.0, "tick_minutes": 60.0, "proxy_pool": 100000, "payment_cards": 60,
                      "cover_share": 0.4, "signup_burst_hours": 72.0, "cot_share": 0.4},
            "low_and_slow": {"cover_share": 0.5, "fake_history_share": 0.9, "cot_share": 0.35,
                             "harness_variation": 0.3},
            "reseller": {"cover_share": 0.85, "payment_cards": 3, "shared_company": False, "harness_variation": 0.3},
            "rubric_grader": {"proxy_pool": 20000, "payment_cards": 8, "cover_share": 0.4, "rubric_share": 0.5},
            "repeated_sampling": {"samples_per_question": 4, "cover_share": 0.3, "payment_cards": 6,
                                  "harness_variation": 0.3},
            "model_pivot": {"pivot_share": 0.5, "proxy_pool": 30000, "payment_cards": 15, "cover_share": 0.3},
        }
    },
}  # fmt: skip


def merge_params(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers override earlier ones, per section and per persona/campaign key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for section, entries in layer.items():
            target = merged.setdefault(section, {})
            for name, values in dict(entries).items():
                target[name] = {**target.get(name, {}), **dict(values)}
    return merged


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 7
    scale: float = 1.0
    days: float = 10.0
    corpus: Path | None = None
    ipdata: Path | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scale <= 0 or self.days <= 0:
            raise ValueError("scale and days must be positive")
        unknown = set(self.params) - {"personas", "campaigns"}
        if unknown:
            raise ValueError(f"unknown parameter sections: {sorted(unknown)} (expected personas, campaigns)")

    def persona_params(self) -> dict[str, dict[str, Any]]:
        merged = copy.deepcopy(PERSONA_DEFAULTS)
        for name, overrides in dict(self.params.get("personas", {})).items():
            if name not in merged:
                raise ValueError(f"unknown persona {name!r}; known: {sorted(merged)}")
            merged[name].update(overrides)
        return merged

    def campaign_params(self) -> dict[str, dict[str, Any]]:
        """campaign id → its effective parameters (defaults, overrides, ``archetype`` set)."""
        overrides = dict(self.params.get("campaigns", {}))
        merged: dict[str, dict[str, Any]] = {}
        for campaign_id in [*CAMPAIGN_DEFAULTS, *(k for k in overrides if k not in CAMPAIGN_DEFAULTS)]:
            extra = dict(overrides.get(campaign_id, {}))
            archetype = extra.pop("archetype", campaign_id)
            if archetype not in CAMPAIGN_DEFAULTS:
                raise ValueError(f"campaign {campaign_id!r}: unknown archetype {archetype!r}; known: {ARCHETYPES}")
            params = {**copy.deepcopy(CAMPAIGN_DEFAULTS[archetype]), **extra, "archetype": archetype}
            if params.get("enabled", True):
                merged[campaign_id] = params
        return merged

    def scaled(self, count: float, minimum: int = 1) -> int:
        return max(minimum, round(count * self.scale))


def load_params(path: Path) -> dict[str, Any]:
    data = orjson.loads(Path(path).read_bytes())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with 'personas' and/or 'campaigns'")
    return data
