"""Benign groups look like campaigns on single features, and campaigns have no free tells."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from app.simulation import Population, SimulationConfig, simulate
from app.simulation.clock import Window
from app.simulation.config import PERSONA_DEFAULTS
from app.simulation.draw import rng_for
from app.simulation.network import IpSpace
from app.simulation.personas import casual
from app.simulation.prompts import PromptFactory
from app.simulation.world import World
from detectors.events import parse_ts


def _accounts_of(population: Population, persona: str) -> set[str]:
    return {a for a, p in population.truth["personas"].items() if p == persona}


def _ips_by_account(population: Population) -> dict[str, set[str]]:
    ips: dict[str, set[str]] = defaultdict(set)
    for event in population.events:
        ips[event["account_id"]].add(event["ip"])
    return ips


def test_corporate_org_is_many_accounts_one_card_one_domain_one_egress(small_population: Population) -> None:
    employees = _accounts_of(small_population, "corporate_employee")
    records = [a for a in small_population.accounts if a["account_id"] in employees]
    assert len(records) >= 8
    assert len({r["payment_fingerprint"] for r in records}) == 1
    assert len({r["email_domain"] for r in records}) == 1
    assert len({r["org_id"] for r in records}) == 1
    egress = Counter(ip for a, ips in _ips_by_account(small_population).items() if a in employees for ip in ips)
    assert egress.most_common(1)[0][1] >= 0.6 * len([a for a in employees if a in _ips_by_account(small_population)])


def test_mobile_cgnat_address_is_shared_by_hundreds_at_default_scale() -> None:
    config = SimulationConfig(seed=5, scale=1.0, days=6)  # default scale; 10 days only adds sharing
    window = Window(config.days)
    world = World(seed=5, window=window, prompts=PromptFactory(), ips=IpSpace(rng_for(5, "ip-space")))
    casual(world, rng_for(5, "persona:casual"), dict(PERSONA_DEFAULTS["casual"]), config)
    users: dict[str, set[str]] = defaultdict(set)
    for _, event in world.events:
        users[event["ip"]].add(event["account_id"])
    cgnat_ips = {ip for pool in world.ips.cgnat.values() for ip in pool}
    assert max(len(users[ip]) for ip in cgnat_ips) >= 100
    groups = {a.account_id: a.group for a in world.accounts}
    sharing = users[max(cgnat_ips, key=lambda ip: len(users[ip]))]
    assert all(str(groups[a]).startswith("cgnat:") for a in sharing)


def test_students_sign_up_in_a_burst_and_share_campus_addresses(small_population: Population) -> None:
    students = _accounts_of(small_population, "student")
    created = sorted(parse_ts(a["created_at"]) for a in small_population.accounts if a["account_id"] in students)
    hours = PERSONA_DEFAULTS["education"]["signup_hours"]
    assert (created[-1] - created[0]).total_seconds() <= hours * 3600
    users: dict[str, set[str]] = defaultdict(set)
    for event in small_population.events:
        if event["account_id"] in students:
            users[event["ip"]].add(event["account_id"])
    assert max(len(u) for u in users.values()) >= 3


def test_batch_jobs_are_high_volume_cloud_temperature_zero(small_population: Population) -> None:
    batch = _accounts_of(small_population, "batch_job")
    per_account = Counter(e["account_id"] for e in small_population.events if e["account_id"] in batch)
    days = small_population.truth["days"]
    assert min(per_account.values()) / days >= 150  # hundreds a day, far above any campaign account's rate
    temps = {e["temperature"] for e in small_population.events if e["account_id"] in batch}
    assert temps == {0.0}


def test_eval_runners_burst_with_step_by_step_at_temperature_zero(small_population: Population) -> None:
    runners = _accounts_of(small_population, "eval_runner")
    events = [e for e in small_population.events if e["account_id"] in runners]
    assert any("step by step" in e["messages"][-1]["content"] for e in events)
    temperatures: dict[str, Counter[float]] = defaultdict(Counter)
    for event in events:
        temperatures[event["account_id"]][event["temperature"]] += 1
    assert sum(t.most_common(1)[0][0] == 0.0 for t in temperatures.values()) >= len(temperatures) / 2


def test_hydra_shares_cards_signs_up_in_bursts_and_rotates_exits(small_population: Population) -> None:
    hydra = {a for a, c in small_population.truth["accounts"].items() if c == "hydra"}
    records = [a for a in small_population.accounts if a["account_id"] in hydra]
    assert len({r["payment_fingerprint"] for r in records}) < len(records)
    created = sorted(parse_ts(r["created_at"]).timestamp() for r in records)
    burst = small_population.truth["campaigns"]["hydra"]["params"]["signup_burst_hours"] * 3600
    first_wave = [t for t in created if t - created[0] <= burst]
    assert len(first_wave) >= len(created) // 2
    ips = _ips_by_account(small_population)
    assert all(len(ips[a]) >= 10 for a in hydra if a in ips)


def test_pivot_campaign_moves_to_the_new_model_faster_than_benign_users(small_population: Population) -> None:
    release = parse_ts(small_population.truth["model_releases"][0]["released_at"]).timestamp()
    hours = small_population.truth["campaigns"]["model_pivot"]["params"]["pivot_hours"]
    campaign_of = small_population.truth["accounts"]
    after = [e for e in small_population.events if parse_ts(e["ts"]).timestamp() >= release + hours * 3600]
    before = [e for e in small_population.events if parse_ts(e["ts"]).timestamp() < release]
    assert all(e["model"] != "frontier-2" for e in before)
    pivot = [e["model"] == "frontier-2" for e in after if campaign_of[e["account_id"]] == "model_pivot"]
    benign = [e["model"] == "frontier-2" for e in after if campaign_of[e["account_id"]] is None]
    assert np.mean(pivot) >= 0.5 > np.mean(benign) > 0.0


def test_campaigns_use_no_client_model_or_endpoint_that_benign_users_do_not() -> None:
    population = simulate(SimulationConfig(seed=2, scale=0.2, days=3))
    campaign_of = population.truth["accounts"]
    for field in ("user_agent", "tls_fingerprint", "model", "endpoint"):
        used = {e[field] for e in population.events if campaign_of[e["account_id"]]}
        benign = {e[field] for e in population.events if not campaign_of[e["account_id"]]}
        assert used <= benign, (field, used - benign)
