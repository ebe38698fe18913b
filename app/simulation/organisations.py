"""Benign groups and developers: corporate NAT orgs, coding agents, an education org.

Groups are the hard negatives for coordination features: many accounts behind one egress IP
with one company card and one email domain; a burst of student sign-ups who paste the same
assignment at the same hour from the same campus addresses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.simulation import vocabulary as v
from app.simulation.clock import DAY, HOUR, LEISURE_HOURS, WORK_HOURS, pick_country
from app.simulation.config import SimulationConfig
from app.simulation.draw import hex_id, pick
from app.simulation.network import client
from app.simulation.personas import card, company_domain, created_before, webmail
from app.simulation.sessions import AGENT_SYSTEM_PROMPTS, agent_session, chat_session, session_starts
from app.simulation.world import Account, World

_UNIVERSITIES = ("northfield", "lakeside", "riverton", "westbrook", "easthaven", "kingsport")
_HOMEWORK_PREFIXES = ("pls help", "homework question:", "how do i solve this", "can someone explain")


def _agent_habits(world: World, rng: np.random.Generator, acct: Account) -> tuple[str, int]:
    acct.temperature = None if rng.random() < 0.6 else 0.0
    acct.stream = True
    if rng.random() < 0.5:  # developers try the new model within hours
        acct.adopt_at = world.window.release + rng.uniform(1.0, 12.0) * HOUR
        acct.adopt_share = 0.9
    return str(pick(rng, AGENT_SYSTEM_PROMPTS)), int(rng.integers(8, 21))


def _agent_sessions(
    world: World, acct: Account, rng: np.random.Generator, profile: np.ndarray, per_week: float, ip_for: Any
) -> None:
    system, tools = _agent_habits(world, rng, acct)
    for start in session_starts(
        world, acct, rng, profile, active_prob=min(0.95, per_week / 7.0 * 1.3), sessions_mean=1.3, weekend_factor=0.4
    ):
        steps = max(3, int(rng.lognormal(math.log(22.0), 0.6)))
        agent_session(world, acct, rng, start, steps=steps, ip=ip_for(rng), system=system, tools=tools)


def coding_agent(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """Individual developers running IDE agents: long multi-turn tool-use bursts from home."""
    for _ in range(config.scaled(p["accounts"], 3)):
        country, offset = pick_country(rng)
        acct = world.account(
            rng, persona="coding_agent", created_ts=created_before(world, rng, 120.0), country=country,
            offset=offset, client=client(rng, "agent"), email_domain=webmail(rng, country), payment=card(rng),
            channel=str(pick(rng, ("web", "oauth_github", "oauth_github"))), tier=str(pick(rng, ("tier1", "tier2"))),
        )  # fmt: skip
        home = world.ips.residential_ip(rng, country)
        profile = WORK_HOURS if rng.random() < 0.6 else LEISURE_HOURS
        _agent_sessions(world, acct, rng, profile, float(p["sessions_per_week"]), lambda _rng, ip=home: ip)


def corporate(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """Companies: employees behind one egress IP, one company card, one email domain."""
    window = world.window
    n_orgs = config.scaled(p["orgs"], 1)
    for index in range(n_orgs):
        org_id, domain = hex_id(rng, "org_", 6), company_domain(rng)
        country, offset = pick_country(rng)
        egress = [world.ips.residential_ip(rng, country) for _ in range(1 if rng.random() < 0.8 else 2)]
        company_card = card(rng)
        onboarding_in_window = index < int(p["onboarding_in_window"])
        onboarded = (
            window.start + rng.uniform(0.1, 0.6) * (window.end - window.start)
            if onboarding_in_window
            else created_before(world, rng, 300.0, 0.6)
        )
        size = max(8, round(rng.lognormal(math.log(p["employees"] * max(config.scale, 0.3)), 0.4)))
        for _ in range(size):
            if onboarding_in_window and rng.random() < 0.7:  # the whole team signs up on day one
                created = onboarded + rng.exponential(3.0 * HOUR)
            else:
                created = onboarded + rng.exponential(60.0 * DAY)
                if not onboarding_in_window:
                    created = min(created, window.start - rng.uniform(0.5, 20.0) * DAY)
            coder = rng.random() < p["coding_share"]
            acct = world.account(
                rng, persona="corporate_employee", created_ts=created, country=country, offset=offset,
                client=client(rng, "agent" if coder else "desktop"), email_domain=domain, payment=company_card,
                channel="sales", tier="enterprise", org_id=org_id, group=org_id,
            )  # fmt: skip
            home = world.ips.residential_ip(rng, country)

            def ip_for(r: np.random.Generator, home: str = home, egress: list[str] = egress) -> str:
                return home if r.random() < 0.15 else str(pick(r, egress))  # remote days

            if coder:
                _agent_sessions(world, acct, rng, WORK_HOURS, 4.0, ip_for)
                continue
            acct.sends_conversation_id = True
            for start in session_starts(
                world,
                acct,
                rng,
                WORK_HOURS,
                active_prob=float(rng.beta(3.0, 3.0)),
                sessions_mean=2.0,
                weekend_factor=0.08,
            ):
                chat_session(
                    world,
                    acct,
                    rng,
                    start,
                    turns=int(rng.geometric(0.3)),
                    ip=ip_for(rng),
                    topic=pick(rng, v.TOPICS["business"] + v.TOPICS["technology"]),
                    typo_rate=0.02,
                )


def education(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """A course signs its students up at once; they paste the same assignment in the same lab hour."""
    window = world.window
    for _ in range(config.scaled(p["orgs"], 1)):
        name = pick(rng, _UNIVERSITIES)
        org_id, domain = hex_id(rng, "org_", 6), f"students.{name}.edu"
        country, offset = pick_country(rng)
        campus = [world.ips.residential_ip(rng, country) for _ in range(int(p["campus_ips"]))]
        course = pick(rng, ("science", "technology", "society", "humanities"))
        assignments = [
            world.prompts.instruction(rng, cap, pick(rng, v.TOPICS[course]))
            for cap in ("reasoning", "knowledge", "coding", "reasoning", "knowledge", "analysis")
            for _ in range(2)
        ]
        signup = window.start + rng.uniform(0.5, max(0.6, 0.3 * window.days)) * DAY
        lab_hour = float(rng.integers(9, 15))
        for _ in range(config.scaled(p["students"], 8)):
            created = signup + rng.random() * p["signup_hours"] * HOUR
            acct = world.account(
                rng, persona="student", created_ts=created, country=country, offset=offset,
                client=client(rng, "desktop" if rng.random() < 0.7 else "mobile"), email_domain=domain,
                payment=None, channel="education_program", tier="edu", org_id=org_id, group=org_id,
            )  # fmt: skip
            acct.sends_conversation_id = True
            home = world.ips.residential_ip(rng, country)
            lab = np.zeros(24)
            lab[int(lab_hour)] = 1.0
            # lab sessions (same hour, campus IPs) and evening homework (dorm = campus half the time)
            for profile, prob in ((lab, 0.45), (LEISURE_HOURS, 0.35)):
                for start in session_starts(
                    world, acct, rng, profile, active_prob=prob, sessions_mean=1.2, weekend_factor=0.3
                ):
                    on_campus = profile is lab or rng.random() < 0.5
                    ip = str(pick(rng, campus)) if on_campus else home
                    week = int((start - window.start) // (7 * DAY))
                    opening = None
                    if rng.random() < 0.55:
                        opening = assignments[(week * 4 + int(rng.integers(0, 4))) % len(assignments)]
                        if rng.random() < 0.3:
                            opening = f"{pick(rng, _HOMEWORK_PREFIXES)} {opening}"
                    chat_session(
                        world,
                        acct,
                        rng,
                        start,
                        turns=int(rng.geometric(0.4)),
                        ip=ip,
                        opening=opening,
                        topic=pick(rng, v.TOPICS[course]),
                        typo_rate=0.08,
                    )
