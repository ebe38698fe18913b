"""simulate(config) → Population: accounts, time-ordered canonical events and the ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.simulation import organisations, personas
from app.simulation.campaigns import ARCHETYPE_RUNNERS, Crew
from app.simulation.clock import Window, rfc3339, timezone_name
from app.simulation.config import SimulationConfig
from app.simulation.draw import rng_for
from app.simulation.network import IpSpace
from app.simulation.prompts import Corpus, PromptFactory
from app.simulation.world import MODEL_NEW, World

PersonaRunner = Callable[[World, np.random.Generator, dict[str, Any], SimulationConfig], None]
PERSONA_RUNNERS: dict[str, PersonaRunner] = {
    "casual": personas.casual,
    "app_backend": personas.app_backend,
    "batch_job": personas.batch_job,
    "eval_runner": personas.eval_runner,
    "learner": personas.learner,
    "corporate": organisations.corporate,
    "coding_agent": organisations.coding_agent,
    "education": organisations.education,
}
_NDJSON = orjson.OPT_APPEND_NEWLINE


@dataclass
class Population:
    accounts: list[dict[str, Any]]
    events: list[dict[str, Any]]
    truth: dict[str, Any]

    def write(self, out_dir: Path | str) -> dict[str, Path]:
        """Write ``accounts.ndjson``, ``events.ndjson`` and ``truth.json``; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"accounts": out / "accounts.ndjson", "events": out / "events.ndjson", "truth": out / "truth.json"}
        paths["accounts"].write_bytes(b"".join(orjson.dumps(a, option=_NDJSON) for a in self.accounts))
        with paths["events"].open("wb") as handle:
            for start in range(0, len(self.events), 20000):
                handle.write(b"".join(orjson.dumps(e, option=_NDJSON) for e in self.events[start : start + 20000]))
        paths["truth"].write_bytes(orjson.dumps(self.truth, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return paths


def simulate(config: SimulationConfig) -> Population:
    """A deterministic population for ``config`` (byte-for-byte the same output for the same seed)."""
    window = Window(config.days)
    corpus = Corpus.load(config.corpus) if config.corpus is not None else None
    world = World(
        seed=config.seed,
        window=window,
        prompts=PromptFactory(corpus),
        ips=IpSpace(rng_for(config.seed, "ip-space"), config.ipdata),
    )
    for name, params in config.persona_params().items():
        if not params.get("enabled", True):
            continue
        PERSONA_RUNNERS[name](world, rng_for(config.seed, f"persona:{name}"), params, config)
    campaigns = config.campaign_params()
    for campaign_id, params in campaigns.items():
        n = config.scaled(params["accounts"], int(params.get("min_accounts", 1)))
        crew = Crew(world, rng_for(config.seed, f"campaign:{campaign_id}"), campaign_id, params, n)
        ARCHETYPE_RUNNERS[params["archetype"]](crew)
    return _assemble(world, config, campaigns)


def _assemble(world: World, config: SimulationConfig, campaigns: dict[str, dict[str, Any]]) -> Population:
    world.events.sort(key=lambda item: (item[0], item[1]["request_id"]))
    events = []
    for ts, event in world.events:
        event["ts"] = rfc3339(ts)
        events.append(event)
    ordered = sorted(world.accounts, key=lambda a: (a.created_ts, a.account_id))
    active = {event["account_id"] for _, event in world.events}
    members: dict[str, int] = {}
    for acct in ordered:
        if acct.campaign is not None:
            members[acct.campaign] = members.get(acct.campaign, 0) + 1
    truth = {
        "accounts": {a.account_id: a.campaign for a in ordered},
        "personas": {a.account_id: a.persona for a in ordered},
        "groups": {a.account_id: a.group for a in ordered},
        "timezones": {a.account_id: timezone_name(a.offset) for a in ordered},
        # accounts with metadata but no request in the window: not scored by anyone, left out of evaluation
        "dormant": sorted(a.account_id for a in ordered if a.account_id not in active),
        "campaigns": {
            cid: {
                "archetype": p["archetype"],
                "description": p["description"],
                "params": {k: v for k, v in p.items() if k not in ("archetype", "description")},
                "accounts": members.get(cid, 0),
            }
            for cid, p in campaigns.items()
        },
        "model_releases": [{"model": MODEL_NEW, "released_at": rfc3339(world.window.release)}],
        "window": {"start": rfc3339(world.window.start), "end": rfc3339(world.window.end)},
        "seed": config.seed,
        "scale": config.scale,
        "days": config.days,
    }
    return Population(accounts=[a.record for a in ordered], events=events, truth=truth)
