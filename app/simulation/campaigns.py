"""Distillation-extraction campaign archetypes, from naive to evasive.

Every archetype takes its knobs from :data:`app.simulation.config.CAMPAIGN_DEFAULTS` (accounts,
rate, jitter, proxy pool, cover share, payment cards …).  Campaigns use the same client
software, models, endpoints and address space as benign users: what gives them away is what
gives real campaigns away — coverage, elicitation, coordination, shared infrastructure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from app.simulation.clock import DAY, HOUR, LEISURE_HOURS, offset_of, pick_country
from app.simulation.draw import end_user_ids, hex_id, pick, poisson_times
from app.simulation.harness import Harness, draw_harness, vary
from app.simulation.personas import COMMON_WEBMAIL, PRIVACY_RELAYS, card, company_domain, created_before, webmail
from app.simulation.prompts import Sweep
from app.simulation.sessions import session_starts, shaped_times
from app.simulation.world import MODEL_CURRENT, Account, World

PROXY_COUNTRIES = ["US", "US", "US", "GB", "DE", "CA", "FR", "IN", "BR", "JP", "AU"]


class Crew:
    """One campaign's accounts plus what they share: cards, harness (client build, request parameters, prompt
    wrapper) and one prompt walk that its accounts split between them."""

    def __init__(self, world: World, rng: np.random.Generator, campaign_id: str, p: dict[str, Any], n: int) -> None:
        self.world, self.rng, self.campaign_id, self.p, self.n = world, rng, campaign_id, p, n
        # payment_cards and proxy_pool, like accounts, are counts at scale 1: keep the per-account ratios
        ratio = n / max(float(p["accounts"]), 1.0)
        self.cards = [card(rng) for _ in range(min(n, max(1, round(float(p["payment_cards"]) * ratio))))]
        pool = max(1, round(int(p["proxy_pool"]) * ratio)) if int(p["proxy_pool"]) > 0 else 0
        self.client_mix: str | dict[str, float] = p.get("client_mix", "script")
        self.harness = draw_harness(rng, self.client_mix, world.prompts)
        self.walk_seed = int(rng.integers(0, 1 << 62))
        # throwaway addresses: privacy relays everyone uses, plus the operator's own catch-all domain
        own = f"{pick(rng, ('inbox', 'mail', 'post', 'box'))}{hex_id(rng, '', 2)}.{pick(rng, ('xyz', 'online', 'top'))}"
        self.throwaway = [*PRIVACY_RELAYS, own]
        self.proxies = world.ips.proxy_pool(rng, pool, PROXY_COUNTRIES) if pool else []
        self.accounts: list[Account] = []
        self.end_users: list[str] = []  # set by archetypes whose traffic passes end-user ids
        self.sweeps: dict[str, Sweep] = {}
        self.harnesses: dict[str, Harness] = {}

    def member(
        self,
        created: float,
        *,
        shard: int,
        email: str | None = None,
        country: str | None = None,
        offset: float | None = None,
        tier: str = "tier1",
        channel: str = "web",
    ) -> Account:
        rng = self.rng
        if country is None or offset is None:
            country, offset = pick_country(rng)
        if email is None:
            email = pick(rng, self.throwaway) if rng.random() < 0.3 else pick(rng, COMMON_WEBMAIL)
        if channel == "web" and rng.random() < 0.3:
            channel = "oauth_google"
        acct = self.world.account(
            rng, persona=self.p["archetype"], created_ts=created, country=country, offset=offset,
            client=self.harness.client,
            email_domain=email, payment=self.cards[len(self.accounts) % len(self.cards)], channel=channel,
            tier=tier, campaign=self.campaign_id,
        )  # fmt: skip
        acct.notes["ip"] = self.world.ips.residential_ip(rng, country)  # archetypes may override
        acct.model = MODEL_CURRENT  # harvest the best model, not the cheap one
        variation = float(self.p.get("harness_variation", 0.0))
        harness = vary(self.harness, rng, self.client_mix, self.world.prompts, variation)
        harness.configure(acct)
        self.harnesses[acct.account_id] = harness
        self.sweeps[acct.account_id] = Sweep(self.walk_seed, shard=shard, shards=self.n)
        self.accounts.append(acct)
        return acct

    def ip(self, acct: Account) -> str:
        if self.proxies:
            return str(pick(self.rng, self.proxies))
        return str(acct.notes["ip"])

    def request(
        self,
        acct: Account,
        ts: float,
        *,
        history: bool = False,
        model: str | None = None,
        temperature: Any = None,
        text: str | None = None,
        cover: bool = True,
        n: int | None = None,
    ) -> None:
        """One harvesting request (or cover traffic), optionally dressed as a multi-turn chat."""
        rng, prompts, p = self.rng, self.world.prompts, self.p
        messages: list[dict[str, Any]] = []
        tools: int | None = None
        if text is None and cover and rng.random() < p["cover_share"]:
            text, kind = prompts.human_opening(rng), "chat"  # replayed human prompts as cover
        else:
            kind = "chat"
            if text is None:
                cap, topic, index = self.sweeps[acct.account_id].next()
                corpus_text = prompts.corpus_item(index) if rng.random() < prompts.corpus_share else None
                text = corpus_text or prompts.instruction(rng, cap, topic)
                kind = "code" if cap == "coding" else "chat"
                if cap == "agentic":  # tool-use traces need tool definitions in the request
                    tools = int(rng.integers(3, 13))
            if rng.random() < p["cot_share"]:
                kind = "cot"
                text, system = self.harnesses[acct.account_id].wrap(rng, text)
                if system is not None:
                    messages.append({"role": "system", "content": system})
        if history:
            messages += [
                {"role": "user", "content": prompts.human_opening(rng)},
                {"role": "assistant", "content": prompts.assistant_reply(rng, "that")},
            ]
        messages.append({"role": "user", "content": text})
        conversation = hex_id(rng, "conv_", 8) if acct.sends_conversation_id else None
        kwargs: dict[str, Any] = {} if temperature is None else {"temperature": temperature}
        self.world.emit(
            acct, rng, ts, messages, ip=self.ip(acct), kind=kind, model=model, conversation_id=conversation,
            tools=tools, n=n, end_user_id=pick(rng, self.end_users) if self.end_users else None, **kwargs
        )  # fmt: skip


def operator_ticks(world: World, rng: np.random.Generator, p: dict[str, Any], offset: float) -> np.ndarray:
    """Scheduler ticks of a campaign's job runner: every ``tick_minutes`` during its working hours."""
    tick = float(p.get("tick_minutes", 15.0)) * 60.0
    active = float(p.get("active_hours", 16.0)) * HOUR
    first_hour = rng.uniform(6.0, 10.0)
    ticks = [
        midnight + first_hour * HOUR + np.arange(0.0, active, tick)
        for midnight in world.window.local_day_starts(offset)
    ]
    return np.concatenate(ticks)


def bulk(crew: Crew) -> None:
    """The naive case: one account, one cloud IP, instruction-style harvesting around the clock."""
    world, rng, p = crew.world, crew.rng, crew.p
    for _ in range(crew.n):
        acct = crew.member(created_before(world, rng, 6.0, 0.5), shard=len(crew.accounts))
        acct.notes["ip"] = world.ips.cloud_ip(rng)
        acct.error_rate = 0.03
        for ts in poisson_times(rng, world.window.start, world.window.end, p["requests_per_day"] / DAY):
            crew.request(acct, float(ts) + rng.random() * p["jitter_s"])


def hydra(crew: Crew) -> None:
    """Sign-up bursts, rotating residential exits, shared cards, loosely synchronised ticks."""
    world, rng, p, window = crew.world, crew.rng, crew.p, crew.world.window
    burst = p["signup_burst_hours"] * HOUR
    replacements = round(crew.n * p["replacement_share"]) if crew.n > 2 else 0
    first_wave = window.start - rng.uniform(0.5, 3.0) * DAY
    second_wave = window.start + rng.uniform(0.3, 0.7) * (window.end - window.start)
    lifetimes: list[tuple[Account, float]] = []
    for i in range(crew.n):
        replacement = i >= crew.n - replacements
        created = (second_wave if replacement else first_wave) + rng.random() * burst
        country = str(pick(rng, PROXY_COUNTRIES))  # claimed to match the proxy exits
        acct = crew.member(created, shard=i, country=country, offset=offset_of(country))
        banned = i < replacements  # the accounts the replacements stand in for
        lifetimes.append((acct, second_wave - rng.random() * 12 * HOUR if banned else math.inf))
    ticks = operator_ticks(world, rng, p, offset=float(rng.choice([-5.0, 1.0, 3.0, 8.0])))
    per_tick = p["requests_per_day"] / (p["active_hours"] * 60.0 / p["tick_minutes"])
    for tick in ticks:
        counts = rng.poisson(per_tick, size=len(lifetimes))
        for (acct, retired), count in zip(lifetimes, counts, strict=True):
            for _ in range(int(count)):
                ts = tick + abs(rng.standard_normal()) * p["jitter_s"]
                if acct.created_ts <= ts < retired:
                    crew.request(acct, float(ts))


def low_and_slow(crew: Crew) -> None:
    """Each account lives like a person: home IP, browser, local-daytime sessions, fake chat history."""
    world, rng, p = crew.world, crew.rng, crew.p
    for i in range(crew.n):
        country, offset = pick_country(rng)
        acct = crew.member(
            created_before(world, rng, 60.0, 0.6), shard=i, email=webmail(rng, country), country=country, offset=offset
        )
        acct.sends_conversation_id = rng.random() < 0.5
        acct.notes["ip"] = world.ips.residential_ip(rng, country)
        per_session = 4.0
        for start in session_starts(
            world, acct, rng, LEISURE_HOURS, active_prob=0.85, sessions_mean=p["requests_per_day"] / per_session / 0.85
        ):
            ts = start + rng.random() * p["jitter_s"]
            for _ in range(1 + int(rng.poisson(per_session - 1))):
                crew.request(acct, ts, history=rng.random() < p["fake_history_share"])
                ts += 40.0 * math.exp(0.9 * rng.standard_normal()) + 10.0


def reseller(crew: Crew) -> None:
    """A reseller's backend: its customers' genuine chats plus a steady stream of harvesting."""
    world, rng, p = crew.world, crew.rng, crew.p
    # one company: its domain on every account and one backend deployment at one cloud provider
    company, provider = company_domain(rng), world.ips.cloud_provider(rng)
    shared = bool(p.get("shared_company", True))
    for i in range(crew.n):
        country, offset = pick_country(rng)
        acct = crew.member(
            created_before(world, rng, 200.0, 0.5),
            shard=i,
            email=company if shared else company_domain(rng),
            country=country,
            offset=offset,
            tier="tier3",
            channel="sales",
        )
        if not shared:
            provider = world.ips.cloud_provider(rng)
        pool = [world.ips.cloud_ip(rng, provider) for _ in range(2)]
        acct.notes["ip"] = pool[0]
        customers = end_user_ids(rng, int(rng.integers(100, 600)))
        crew.end_users = customers[:3]  # the harvesting "customers" of the reseller
        customer_rate = p["requests_per_day"] * p["cover_share"]
        # customers live everywhere, so their rhythm is a flattened day
        flat = LEISURE_HOURS + LEISURE_HOURS.mean()
        stream = [(float(t), True) for t in shaped_times(world, rng, offset, customer_rate, flat)]
        harvest_rate = p["requests_per_day"] * (1.0 - p["cover_share"]) / DAY
        stream += [(float(t), False) for t in poisson_times(rng, world.window.start, world.window.end, harvest_rate)]
        for ts, is_customer in sorted(stream):
            acct.notes["ip"] = pick(rng, pool)
            if is_customer:
                end_user = str(pick(rng, customers))
                text = world.prompts.human_opening(rng)
                world.emit(
                    acct, rng, ts, [{"role": "user", "content": text}], ip=acct.notes["ip"], end_user_id=end_user
                )
            else:
                crew.request(acct, ts, cover=False)


def rubric_grader(crew: Crew) -> None:
    """The model as a reward model: grading and pairwise-preference prompts, temperature 0, short answers."""
    world, rng, p = crew.world, crew.rng, crew.p
    verdict_tokens = int(pick(rng, (16, 64, 256, 1024)))  # short verdicts, one setting in the grading script
    for i in range(crew.n):
        acct = crew.member(created_before(world, rng, 30.0, 0.5), shard=i)
        acct.notes["ip"] = world.ips.cloud_ip(rng)  # used when proxy_pool is 0
        acct.temperature, acct.max_tokens = 0.0, verdict_tokens
    ticks = operator_ticks(world, rng, {**p, "tick_minutes": 10.0}, offset=float(rng.choice([1.0, 8.0])))
    per_tick = p["requests_per_day"] / (len(ticks) / max(world.window.days, 1e-9))
    for tick in ticks:
        for acct, count in zip(crew.accounts, rng.poisson(per_tick, size=len(crew.accounts)), strict=True):
            for _ in range(int(count)):
                ts = float(tick + rng.random() * p["jitter_s"] * 10)
                if rng.random() < p["rubric_share"]:
                    grading = [{"role": "user", "content": world.prompts.rubric(rng)}]
                    world.emit(acct, rng, ts, grading, ip=crew.ip(acct), kind="rubric")
                else:
                    crew.request(acct, ts)  # harvesting and cover, as the other archetypes


def repeated_sampling(crew: Crew) -> None:
    """The same reasoning question, sampled again and again at temperature 1."""
    world, rng, p = crew.world, crew.rng, crew.p
    k = max(2, int(p["samples_per_question"]))
    for i in range(crew.n):
        acct = crew.member(created_before(world, rng, 45.0, 0.5), shard=i)
        acct.notes["ip"] = world.ips.cloud_ip(rng)
        sweep = Sweep(crew.walk_seed, focus={"reasoning": 0.7, "coding": 0.3}, shard=i, shards=crew.n)
        for start in poisson_times(rng, world.window.start, world.window.end, p["requests_per_day"] / k / DAY):
            cap, topic, index = sweep.next()
            question = world.prompts.corpus_item(index) if rng.random() < 0.5 else None
            question = question or world.prompts.instruction(rng, cap, topic)
            ts = float(start)
            n = 4 if rng.random() < 0.3 else None  # sometimes several samples per request
            for _ in range(k // (n or 1)):
                crew.request(acct, ts, temperature=p["temperature"], text=question, n=n)
                ts += p["jitter_s"] * math.exp(0.5 * rng.standard_normal())


def model_pivot(crew: Crew) -> None:
    """Harvesting that moves most of its traffic to the new model within hours of its release."""
    world, rng, p, window = crew.world, crew.rng, crew.p, crew.world.window
    offset = float(rng.choice([1.0, 3.0, 8.0]))
    for i in range(crew.n):
        acct = crew.member(created_before(world, rng, 30.0, 0.5), shard=i)
        acct.adopt_at = window.release + rng.uniform(0.3, 1.0) * p["pivot_hours"] * HOUR
        acct.adopt_share = p["pivot_share"]
        base = p["requests_per_day"] / DAY
        times = np.concatenate(
            [
                poisson_times(rng, window.start, min(acct.adopt_at, window.end), base),
                poisson_times(rng, acct.adopt_at, window.end, base * p["pivot_rate_multiplier"]),
            ]
        )
        for ts in times:
            # same operator shift for all members: keep requests inside its working hours
            local_hour = ((ts / HOUR) + offset) % 24.0
            if 7.0 <= local_hour < 23.0 or rng.random() < 0.15:
                crew.request(acct, float(ts) + rng.random() * p["jitter_s"])


ARCHETYPE_RUNNERS: dict[str, Callable[[Crew], None]] = {
    "bulk": bulk, "hydra": hydra, "low_and_slow": low_and_slow, "reseller": reseller,
    "rubric_grader": rubric_grader, "repeated_sampling": repeated_sampling, "model_pivot": model_pivot,
}  # fmt: skip
