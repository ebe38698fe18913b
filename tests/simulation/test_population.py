"""The simulated population: determinism, event schema, truth, and the documented archetype knobs."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from app.simulation import ARCHETYPES, PERSONA_DEFAULTS, PRESETS, Population, SimulationConfig, merge_params, simulate
from app.simulation.population import PERSONA_RUNNERS
from detectors.events import ACCOUNT_COLUMNS, event_row, parse_ts
from tests.simulation.conftest import SMALL

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
EVENT_FIELDS = {
    "request_id", "account_id", "ts", "ip", "user_agent", "tls_fingerprint", "model", "endpoint", "messages",
    "conversation_id", "max_tokens", "n", "temperature", "top_p", "stream", "tools", "prompt_tokens",
    "completion_tokens", "status", "latency_ms", "api_key_id", "org_id", "end_user_id",
}  # fmt: skip
ROLES = {"system", "developer", "user", "assistant", "tool"}
BENIGN_PERSONAS = {
    "casual", "app_backend", "batch_job", "eval_runner", "corporate_employee", "coding_agent", "student", "learner",
}  # fmt: skip


def test_same_seed_gives_byte_identical_files(tmp_path: Path, small_population: Population) -> None:
    first = small_population.write(tmp_path / "a")
    second = simulate(SMALL).write(tmp_path / "b")
    for name in ("accounts", "events", "truth"):
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_another_seed_gives_another_population(small_population: Population) -> None:
    other = simulate(SimulationConfig(seed=12, scale=0.05, days=4))
    assert {a["account_id"] for a in other.accounts}.isdisjoint({a["account_id"] for a in small_population.accounts})


def test_every_event_follows_the_canonical_schema(small_population: Population) -> None:
    for event in small_population.events:
        assert set(event) == EVENT_FIELDS
        assert event["request_id"] and event["account_id"]
        assert RFC3339.match(event["ts"]), event["ts"]
        assert event["messages"], event
        for message in event["messages"]:
            assert message["role"] in ROLES
            assert isinstance(message["content"], str)
        assert event["messages"][-1]["role"] in ("user", "tool")
        assert isinstance(event["stream"], bool)
        assert event["status"] in (200, 400, 429, 500, 503)
        assert event["prompt_tokens"] > 0 and event["completion_tokens"] >= 0 and event["latency_ms"] > 0
    # the service's own ingest path accepts every one of them
    for event in small_population.events[:: max(1, len(small_population.events) // 500)]:
        event_row(event)


def test_events_are_time_ordered_unique_and_inside_the_window(small_population: Population) -> None:
    stamps = [parse_ts(e["ts"]) for e in small_population.events]
    assert stamps == sorted(stamps)
    assert len({e["request_id"] for e in small_population.events}) == len(small_population.events)
    window = small_population.truth["window"]
    assert parse_ts(window["start"]) <= stamps[0] and stamps[-1] < parse_ts(window["end"])
    created = {a["account_id"]: parse_ts(a["created_at"]) for a in small_population.accounts}
    assert all(parse_ts(e["ts"]) >= created[e["account_id"]] for e in small_population.events)


def test_account_records_carry_the_spec_fields(small_population: Population) -> None:
    ids = [a["account_id"] for a in small_population.accounts]
    assert len(set(ids)) == len(ids)
    for account in small_population.accounts:
        assert set(account) == set(ACCOUNT_COLUMNS)
        assert re.fullmatch(r"[A-Z]{2}", account["country"])
        assert RFC3339.match(account["created_at"])
    assert {e["account_id"] for e in small_population.events} <= set(ids)


def test_truth_describes_every_account_and_campaign(small_population: Population) -> None:
    truth = small_population.truth
    ids = {a["account_id"] for a in small_population.accounts}
    for key in ("accounts", "personas", "groups", "timezones"):
        assert set(truth[key]) == ids, key
    assert set(truth["dormant"]) == ids - {e["account_id"] for e in small_population.events}
    assert set(truth["campaigns"]) == set(ARCHETYPES)
    members = Counter(c for c in truth["accounts"].values() if c is not None)
    for campaign_id, info in truth["campaigns"].items():
        params = info["params"]
        assert info["archetype"] == campaign_id and info["description"]
        assert info["accounts"] == members[campaign_id] == SMALL.scaled(params["accounts"], params["min_accounts"])
    assert truth["model_releases"] == [
        {"model": "frontier-2", "released_at": truth["model_releases"][0]["released_at"]}
    ]
    assert (truth["seed"], truth["scale"], truth["days"]) == (SMALL.seed, SMALL.scale, SMALL.days)


def test_every_persona_and_archetype_is_present_and_active(small_population: Population) -> None:
    personas = Counter(small_population.truth["personas"].values())
    assert set(personas) == BENIGN_PERSONAS | set(ARCHETYPES)
    assert set(PERSONA_RUNNERS) == set(PERSONA_DEFAULTS)
    active = Counter(small_population.truth["personas"][e["account_id"]] for e in small_population.events)
    assert set(active) == set(personas)
    campaign_personas = {
        p for a, p in small_population.truth["personas"].items() if small_population.truth["accounts"][a]
    }
    assert campaign_personas == set(ARCHETYPES)


def test_campaign_parameters_can_be_dialled() -> None:
    params = {
        "personas": {"casual": {"accounts": 20}, "learner": {"enabled": False}},
        "campaigns": {
            "bulk": {"enabled": False},
            "hydra": {"accounts": 200, "payment_cards": 40},  # 1 card per 5 accounts
            "hydra-b": {"archetype": "hydra", "accounts": 100, "proxy_pool": 0},
        },
    }
    population = simulate(SimulationConfig(seed=3, scale=0.05, days=2, params=params))
    campaigns = population.truth["campaigns"]
    assert "bulk" not in campaigns and "learner" not in population.truth["personas"].values()
    assert campaigns["hydra"]["accounts"] == 10 and campaigns["hydra-b"]["accounts"] == 5
    assert campaigns["hydra-b"]["archetype"] == "hydra"
    hydra = {a for a, c in population.truth["accounts"].items() if c == "hydra"}
    cards = {a["payment_fingerprint"] for a in population.accounts if a["account_id"] in hydra}
    assert len(cards) == 2


@pytest.mark.parametrize(
    "params",
    [{"campaigns": {"x": {"archetype": "nope"}}}, {"personas": {"nobody": {}}}, {"other": {}}],
)
def test_unknown_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        simulate(SimulationConfig(scale=0.05, days=1, params=params))


def test_newest_event_is_near_the_window_end(small_population: Population) -> None:
    last = parse_ts(small_population.events[-1]["ts"])
    end = parse_ts(small_population.truth["window"]["end"])
    assert (end - last).total_seconds() < 3600
    assert isinstance(last, datetime)


def test_presets_merge_under_explicit_overrides() -> None:
    merged = merge_params(PRESETS["evasive"], {"campaigns": {"hydra": {"accounts": 7}}})
    assert merged["campaigns"]["hydra"]["accounts"] == 7
    assert merged["campaigns"]["hydra"]["proxy_pool"] == PRESETS["evasive"]["campaigns"]["hydra"]["proxy_pool"]
    population = simulate(SimulationConfig(seed=1, scale=0.05, days=1, params=merged))
    assert "bulk" not in population.truth["campaigns"]
    assert population.truth["campaigns"]["hydra"]["params"]["jitter_s"] == 1800.0
