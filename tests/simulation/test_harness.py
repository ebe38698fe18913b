"""A crew runs one harness and splits one walk; the evasive preset makes its accounts vary the harness."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from app.simulation import PRESETS, Population, SimulationConfig, simulate
from app.simulation.campaigns import Crew
from app.simulation.clock import Window
from app.simulation.config import CAMPAIGN_DEFAULTS
from app.simulation.harness import draw_harness, vary
from app.simulation.network import IpSpace
from app.simulation.prompts import PromptFactory
from app.simulation.world import World

SHAPE = ("max_tokens", "temperature", "top_p", "stream", "endpoint", "user_agent", "tls_fingerprint")


def _crew(archetype: str, n: int, **overrides: Any) -> Crew:
    world = World(seed=1, window=Window(2.0), prompts=PromptFactory(), ips=IpSpace(np.random.default_rng(0)))
    params = {**CAMPAIGN_DEFAULTS[archetype], "archetype": archetype, **overrides}
    crew = Crew(world, np.random.default_rng(5), archetype, params, n)
    for shard in range(n):
        crew.member(world.window.start - 86400.0, shard=shard)
    return crew


def test_the_shards_of_a_crew_split_one_walk() -> None:
    crew = _crew("hydra", 5)
    sweeps = list(crew.sweeps.values())
    seen = [{sweep.next()[:2] for _ in range(60)} for sweep in sweeps]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert seen[i].isdisjoint(seen[j])
    corpus = [sweep.next()[2] for sweep in sweeps]
    assert len(set(corpus)) == len(corpus) and max(corpus) - min(corpus) < len(corpus)  # interleaved, one walk


def _shapes(population: Population, campaign: str) -> dict[str, set[tuple[Any, ...]]]:
    members = {a for a, c in population.truth["accounts"].items() if c == campaign}
    shapes: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for event in population.events:
        if event["account_id"] in members:
            shapes[event["account_id"]].add(tuple(event[field] for field in SHAPE))
    return shapes


def test_a_crew_sends_one_request_shape_and_crews_differ() -> None:
    population = simulate(SimulationConfig(seed=4, scale=0.1, days=2))
    crews = {campaign: _shapes(population, campaign) for campaign in ("low_and_slow", "hydra")}
    for shapes in crews.values():
        assert len(shapes) >= 2 and len(set().union(*shapes.values())) == 1
    assert set().union(*crews["low_and_slow"].values()) != set().union(*crews["hydra"].values())


def test_the_evasive_preset_varies_the_harness_per_account() -> None:
    population = simulate(SimulationConfig(seed=4, scale=0.2, days=2, params=PRESETS["evasive"]))
    shapes = _shapes(population, "low_and_slow")
    assert len(set().union(*shapes.values())) >= 2


def test_variation_redraws_parts_and_zero_keeps_the_harness() -> None:
    rng = np.random.default_rng(9)
    prompts = PromptFactory()
    harness = draw_harness(rng, "script", prompts)
    assert vary(harness, rng, "script", prompts, 0.0) is harness
    varied = [vary(harness, rng, "script", prompts, 1.0) for _ in range(20)]
    assert sum(v.frame != harness.frame for v in varied) >= 15
    assert sum(v.client != harness.client for v in varied) >= 5
    text, system = harness.wrap(rng, "Explain B-trees")
    assert "Explain B-trees" in text and harness.frame in (system or text)


def test_a_resellers_accounts_share_its_company_identity() -> None:
    population = simulate(
        SimulationConfig(seed=4, scale=0.05, days=1, params={"campaigns": {"reseller": {"accounts": 60}}})
    )
    members = {a for a, c in population.truth["accounts"].items() if c == "reseller"}
    records = [r for r in population.accounts if r["account_id"] in members]
    assert len(records) == 3
    assert len({r["email_domain"] for r in records}) == 1 and len({r["payment_fingerprint"] for r in records}) == 1
