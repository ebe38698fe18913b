"""A realistic traffic simulator: benign personas, hard negatives and distillation campaigns.

    from app.simulation import SimulationConfig, simulate
    population = simulate(SimulationConfig(seed=7, scale=0.2, days=5, corpus=None))
    population.accounts   # account metadata records (SPEC: account_id, created_at, email_domain, …)
    population.events     # canonical events, time-ordered; the newest one is "now"
    population.truth      # ground truth, also written as truth.json
    population.write("out/")  # accounts.ndjson, events.ndjson, truth.json

Benign personas (``truth["personas"]``): ``casual`` (multi-turn chat in local daytime from home, some on
mobile carrier-grade NAT shared by hundreds), ``app_backend`` (cloud IPs, one system prompt, its users'
questions), ``batch_job`` (thousands of templated single-turn requests a night), ``eval_runner``
(benchmark bursts at temperature 0, "think step by step", LLM-as-judge, pass@k, release-day runs),
``corporate_employee`` (one egress IP, one card, one domain per org), ``coding_agent`` (long tool-use
bursts), ``student`` (a sign-up burst pasting the same assignment from campus addresses) and ``learner``
(self-study power users asking for the steps across many topics, daily).

Campaign archetypes (``truth["campaigns"]``, knobs in :data:`CAMPAIGN_DEFAULTS`): ``bulk``, ``hydra``,
``low_and_slow``, ``reseller``, ``rubric_grader``, ``repeated_sampling``, ``model_pivot``.

Truth: ``accounts`` (account → campaign id or None), ``personas``, ``groups`` (corporate/education
org or ``cgnat:<carrier>``, else None), ``timezones``, ``dormant`` (accounts with no request in the
window), ``campaigns`` ({archetype, description, params, accounts}), ``model_releases``, ``window``,
``seed``, ``scale``, ``days``.  Output is byte-for-byte the same for the same configuration.
"""

from app.simulation.config import (
    ARCHETYPES,
    CAMPAIGN_DEFAULTS,
    PERSONA_DEFAULTS,
    PRESETS,
    SimulationConfig,
    load_params,
    merge_params,
)
from app.simulation.population import Population, simulate

__all__ = [
    "ARCHETYPES",
    "CAMPAIGN_DEFAULTS",
    "PERSONA_DEFAULTS",
    "PRESETS",
    "Population",
    "SimulationConfig",
    "load_params",
    "merge_params",
    "simulate",
]
