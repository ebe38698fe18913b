"""Benign individuals and services: casual chat users, app backends, batch jobs, eval runners.

Each one is a hard negative for some single feature (volume, cloud IPs, templated prompts,
"step by step", bursts, shared CGNAT addresses); only combinations separate them from campaigns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.simulation import vocabulary as v
from app.simulation.clock import DAY, HOUR, LEISURE_HOURS, pick_country
from app.simulation.config import SimulationConfig
from app.simulation.draw import end_user_ids, hex_id, pick, quota, rng_for
from app.simulation.network import client
from app.simulation.sessions import chat_session, session_starts, shaped_times, trimmed
from app.simulation.world import MODEL_MINI, MODEL_NEW, World

WEBMAIL: dict[str, tuple[str, ...]] = {
    "DE": ("gmx.de", "web.de", "gmail.com", "t-online.de"), "FR": ("orange.fr", "gmail.com", "free.fr"),
    "JP": ("yahoo.co.jp", "gmail.com", "docomo.ne.jp"), "KR": ("naver.com", "gmail.com", "daum.net"),
    "BR": ("gmail.com", "hotmail.com", "uol.com.br"), "GB": ("gmail.com", "outlook.com", "btinternet.com"),
}  # fmt: skip
PRIVACY_RELAYS = ("duck.com", "simplelogin.com", "tutanota.com", "mailbox.org")
COMMON_WEBMAIL = (
    "gmail.com", "gmail.com", "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com", "proton.me",
)  # fmt: skip
_COMPANY_A = (
    "bright", "blue", "nova", "quant", "hyper", "lumen", "swift", "atlas", "pixel", "terra", "north", "cedar",
    "orbit", "delta", "prism", "vector", "harbor", "summit", "ember", "ionic",
)  # fmt: skip
_COMPANY_B = (
    "loop", "labs", "stack", "works", "ly", "hq", "ai", "base", "flow", "mind", "grid", "forge", "desk", "logic",
    "path",
)  # fmt: skip
_TLDS = (".io", ".com", ".ai", ".app", ".co", ".dev")


def webmail(rng: np.random.Generator, country: str) -> str:
    if rng.random() < 0.03:  # people who hide their address behind a relay
        return str(pick(rng, PRIVACY_RELAYS))
    return str(pick(rng, WEBMAIL.get(country, COMMON_WEBMAIL)))


def company_domain(rng: np.random.Generator) -> str:
    return f"{pick(rng, _COMPANY_A)}{pick(rng, _COMPANY_B)}{pick(rng, _TLDS)}"


def card(rng: np.random.Generator) -> str:
    return hex_id(rng, "pm_", 8)


def created_before(world: World, rng: np.random.Generator, median_days: float, spread: float = 1.0) -> float:
    return world.window.start - DAY * (1.0 + median_days * math.exp(spread * rng.standard_normal()))


def casual(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """People chatting: local-daytime multi-turn sessions from home, some on mobile CGNAT."""
    ips, window = world.ips, world.window
    previous: tuple[str, str, float, str | None] | None = None
    for _ in range(config.scaled(p["accounts"], 20)):
        household = previous is not None and rng.random() < p["household_share"]
        if household and previous is not None:
            country, home, offset, payment = previous[0], previous[1], previous[2], previous[3]
        else:
            country, offset = pick_country(rng)
            payment = None if rng.random() < 0.45 else card(rng)
            home = ""
        mobile = rng.random() < p["mobile_share"]
        if rng.random() < p["new_signup_share"]:
            created = window.start + rng.random() * (window.end - window.start) * 0.9
        else:
            created = created_before(world, rng, 150.0)
        acct = world.account(
            rng, persona="casual", created_ts=created, country=country, offset=offset,
            client=client(rng, "mobile" if mobile and rng.random() < 0.7 else "desktop"),
            email_domain=webmail(rng, country), payment=payment,
            channel=str(pick(rng, ("web", "web", "web", "oauth_google", "oauth_google", "oauth_github"))),
            tier="free" if payment is None else ("tier2" if rng.random() < 0.2 else "tier1"),
        )  # fmt: skip
        acct.sends_conversation_id = rng.random() < 0.5
        v6 = ips.residential_v6_prefix(rng) if rng.random() < p["ipv6_share"] else None
        home = home or ips.residential_ip(rng, country)
        previous = (country, home, offset, payment)
        cgnat = ips.cgnat_pool(country) if mobile else None
        if cgnat is not None:
            acct.group = f"cgnat:{cgnat[0]}"
        power = rng.random() < p["power_user_share"]
        active = 0.9 if power else float(rng.beta(1.5, 4.0))
        sessions = float(rng.uniform(3.0, 8.0)) if power else 1.4
        system = world.prompts.plain_system(rng) if rng.random() < 0.2 else None
        interests = [pick(rng, v.ALL_TOPICS) for _ in range(4)]
        typo_rate = float(rng.random() * 0.15)
        for start in session_starts(world, acct, rng, LEISURE_HOURS, active_prob=active, sessions_mean=sessions):
            if rng.random() < 0.04:  # DHCP lease changes now and then
                home = ips.residential_ip(rng, country)
            if cgnat is not None and rng.random() < 0.7:
                ip = str(pick(rng, cgnat[1]))
            elif v6 is not None:
                ip = ips.v6_in(rng, v6)
            else:
                ip = home
            topic = pick(rng, interests) if rng.random() < 0.6 else None
            chat_session(
                world,
                acct,
                rng,
                start,
                turns=int(rng.geometric(0.2 if power else 0.35)),
                ip=ip,
                system=system,
                topic=topic,
                typo_rate=typo_rate,
            )


def app_backend(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """A product built on the API: cloud IPs, one system prompt, its end users' questions."""
    n = config.scaled(p["accounts"], 3)
    cot_systems, passes_end_users = quota(rng, n, p["cot_system_share"]), quota(rng, n, p["end_user_id_share"])
    for index in range(n):
        country, offset = pick_country(rng)
        acct = world.account(
            rng, persona="app_backend", created_ts=created_before(world, rng, 200.0), country=country, offset=offset,
            client=client(rng, "server"), email_domain=company_domain(rng), payment=card(rng),
            channel=str(pick(rng, ("web", "sales"))), tier=str(pick(rng, ("tier2", "tier3", "tier3"))),
            n_keys=int(rng.integers(1, 3)),
        )  # fmt: skip
        provider = world.ips.cloud_provider(rng)
        pool = [world.ips.cloud_ip(rng, provider) for _ in range(int(rng.integers(1, 4)))]
        cot = cot_systems[index]  # tutoring apps ask for step-by-step in their system prompt
        system = world.prompts.cot_system(rng) if cot else world.prompts.plain_system(rng)
        acct.temperature = float(pick(rng, (0.2, 0.3, 0.7, 0.7, 1.0)))
        if rng.random() < 0.3:  # teams that ship the new model the day it is out
            acct.adopt_at = world.window.release + rng.uniform(2.0, 30.0) * HOUR
            acct.adopt_share = 1.0
        end_users = end_user_ids(rng, int(rng.integers(20, 400))) if passes_end_users[index] else []
        tools = int(rng.integers(2, 9)) if rng.random() < 0.25 else None  # function calling
        rate = p["requests_per_day"] * math.exp(0.9 * rng.standard_normal())
        for ts in shaped_times(world, rng, offset, rate, LEISURE_HOURS):
            history: list[dict[str, Any]] = [{"role": "system", "content": system}]
            for _ in range(2 * int(rng.poisson(p["followups"]))):
                history += [
                    {"role": "user", "content": world.prompts.human_opening(rng)},
                    {"role": "assistant", "content": world.prompts.assistant_reply(rng, "that")},
                ]
            history.append({"role": "user", "content": world.prompts.human_opening(rng)})
            end_user = str(pick(rng, end_users)) if end_users else None
            world.emit(
                acct,
                rng,
                float(ts),
                trimmed(history),
                ip=str(pick(rng, pool)),
                end_user_id=end_user,
                tools=tools,
                kind="cot" if cot else "chat",
            )


_BATCH_WRAPPERS = (
    "Rewrite the following instruction so that it is clearer and more specific. Return only the rewrite.\n\n{x}",
    "Classify the following request into one of [coding, math, writing, knowledge, other]. "
    "Reply with the label only.\n\nRequest: {x}",
    "Translate the following text into German:\n\n{x}",
    "Does the following text contain personal data? Answer yes or no.\n\n{x}",
)  # fmt: skip


_BATCH_SYSTEMS = (
    "You are a data-processing assistant. Follow the format exactly.",
    "You process records for {company}. Output only the requested field, no commentary.",
    "You are an internal tool at {company}. Return valid output in the exact format requested.",
    "You label and transform text for {company}'s data pipeline. Never add explanations.",
)  # fmt: skip


def batch_job(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """Enterprise cron jobs: thousands of templated single-turn requests a night, from the cloud."""
    n = config.scaled(p["accounts"], 2)
    wrapping = quota(rng, n, p["corpus_template_share"])
    for index in range(n):
        country, offset = pick_country(rng)
        acct = world.account(
            rng, persona="batch_job", created_ts=created_before(world, rng, 300.0), country=country, offset=offset,
            client=client(rng, "script"), email_domain=company_domain(rng), payment=card(rng), channel="sales",
            tier=str(pick(rng, ("tier3", "enterprise"))),
        )  # fmt: skip
        # each company's own pipeline settings (deterministic, short answers, no streaming), drawn from the
        # account's own stream so that the rest of the persona's draws stay as they were
        own = rng_for(world.seed, f"batch-settings:{acct.account_id}")
        acct.temperature, acct.error_rate, acct.stream = 0.0, 0.01, False
        acct.max_tokens = int(pick(own, (128, 256, 256, 500, 512, 1000, 1024, 2000)))
        acct.model = MODEL_MINI if rng.random() < 0.4 else acct.model
        provider = world.ips.cloud_provider(rng)
        pool = [world.ips.cloud_ip(rng, provider) for _ in range(int(rng.integers(1, 3)))]
        wraps_instructions = wrapping[index]
        template = pick(rng, _BATCH_WRAPPERS) if wraps_instructions else world.prompts.batch_template(rng)
        system = pick(own, _BATCH_SYSTEMS).format(company=acct.record["email_domain"]) if rng.random() < 0.5 else None
        cron_hour = float(pick(rng, (1.0, 2.0, 3.0, 4.0, 9.0, 13.0))) + int(rng.integers(0, 4)) * 0.25
        weekdays_only = rng.random() < 0.5
        per_day = p["requests_per_day"] * math.exp(0.5 * rng.standard_normal())
        for midnight in world.window.local_day_starts(offset):
            if weekdays_only and world.window.is_weekend(midnight, offset):
                continue
            count = int(rng.poisson(per_day))
            start = midnight + cron_hour * HOUR + rng.random() * 5.0
            gaps = rng.exponential(rng.uniform(0.5, 3.0) * HOUR / max(count, 1), size=count)
            for ts in start + np.cumsum(gaps):
                if wraps_instructions:
                    cap = pick(rng, ("knowledge", "reasoning", "writing", "coding"))
                    text = template.format(x=world.prompts.instruction(rng, cap))
                else:
                    text = world.prompts.batch_item(rng, template)
                messages = [{"role": "system", "content": system}] if system else []
                messages.append({"role": "user", "content": text})
                world.emit(acct, rng, float(ts), messages, ip=str(pick(rng, pool)), kind="batch")


def learner(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """Self-study power users: daily, broad-coverage questions, often asking for the steps.

    The benign twin of low-and-slow harvesting: residential, human rhythm, chain-of-thought
    requests across many topics at a few dozen a day.
    """
    caps = ("reasoning", "reasoning", "knowledge", "coding", "analysis")
    for _ in range(config.scaled(p["accounts"], 3)):
        country, offset = pick_country(rng)
        acct = world.account(
            rng, persona="learner", created_ts=created_before(world, rng, 90.0), country=country, offset=offset,
            client=client(rng, "desktop" if rng.random() < 0.7 else "mobile"), email_domain=webmail(rng, country),
            payment=card(rng), channel=str(pick(rng, ("web", "oauth_google"))), tier="tier1",
        )  # fmt: skip
        acct.sends_conversation_id = rng.random() < 0.6
        home = world.ips.residential_ip(rng, country)
        per_session = float(rng.uniform(3.0, 8.0))
        cot_habit = float(rng.uniform(0.2, 0.7))
        for start in session_starts(world, acct, rng, LEISURE_HOURS, active_prob=float(rng.uniform(0.6, 0.95)),
                                    sessions_mean=p["requests_per_day"] / per_session):  # fmt: skip
            ts = start
            for _ in range(1 + int(rng.poisson(per_session - 1))):
                question = world.prompts.instruction(rng, pick(rng, caps))
                if rng.random() < 0.4:  # typed as people type
                    question = world.prompts.human_opening(rng, typo_rate=0.03)
                if rng.random() < cot_habit:
                    question = f"{question} {pick(rng, _LEARNER_ASKS)}"
                ts = chat_session(world, acct, rng, ts, turns=int(rng.geometric(0.6)), ip=home, opening=question)
                ts += 30.0 + 240.0 * rng.random()


_LEARNER_ASKS = (
    "explain step by step", "show your work please", "can you walk me through it?", "explain the reasoning",
    "step by step pls", "i want to understand each step", "why? explain like a tutor would",
)  # fmt: skip


def _benchmark(world: World, rng: np.random.Generator, size: int, *, human: bool) -> list[str]:
    if human:  # AlpacaEval-style: real users' questions
        return [world.prompts.human_opening(rng, typo_rate=0.0) for _ in range(size)]
    caps = ("knowledge", "reasoning", "reasoning", "coding", "analysis", "writing", "agentic")
    return [world.prompts.instruction(rng, pick(rng, caps)) for _ in range(size)]


def eval_runner(world: World, rng: np.random.Generator, p: dict[str, Any], config: SimulationConfig) -> None:
    """Benchmark runs: bursts of broad-coverage questions, temperature 0, often "think step by step"."""
    shared = [_benchmark(world, rng, int(p["questions"]), human=i == 0) for i in range(int(p["shared_benchmarks"]))]
    window = world.window
    n = config.scaled(p["accounts"], 3)
    judges, pass_at_k = quota(rng, n, p["judge_share"]), quota(rng, n, p["pass_at_k_share"])
    cots, new_model = quota(rng, n, p["cot_share"]), quota(rng, n, p["new_model_share"])
    for index in range(n):
        country, offset = pick_country(rng)
        acct = world.account(
            rng, persona="eval_runner", created_ts=created_before(world, rng, 250.0), country=country, offset=offset,
            client=client(rng, "script"), email_domain=company_domain(rng) if rng.random() < 0.6 else "gmail.com",
            payment=card(rng), channel="web", tier=str(pick(rng, ("tier1", "tier2", "tier3"))),
        )  # fmt: skip
        acct.stream, acct.adopt_at, acct.error_rate = False, math.inf, 0.008
        own = _benchmark(world, rng, int(p["questions"]) // 2, human=False)
        suites = [pick(rng, shared)] + ([own] if rng.random() < 0.6 else [])
        cot = cots[index]
        suffix = "Let's think step by step." if rng.random() < 0.7 else world.prompts.cot_suffix(rng)
        mode = "judge" if judges[index] else ("pass@k" if pass_at_k[index] else "")
        temperature = 0.8 if mode == "pass@k" else 0.0
        batched_samples = rng.random() < 0.5
        ip_pool = [world.ips.cloud_ip(rng)] if rng.random() < 0.6 else [world.ips.residential_ip(rng, country)]
        run_starts = [window.start + rng.random() * (window.end - window.start) for _ in range(int(p["runs"]))]
        models = [acct.model] * len(run_starts)
        if new_model[index]:  # everybody benchmarks the new model on release day
            run_starts.append(window.release + rng.uniform(1.0, 20.0) * HOUR)
            models.append(MODEL_NEW)
        for start, model in zip(run_starts, models, strict=True):
            questions = [q for suite in suites for q in suite]
            # pass@k: k separate requests, or one request with n=k
            samples = 5 if mode == "pass@k" and not batched_samples else 1
            n_param = 5 if mode == "pass@k" and batched_samples else None
            times = start + np.cumsum(rng.exponential(rng.uniform(0.3, 2.0), size=len(questions) * samples))
            for i, ts in enumerate(times):
                question = questions[i // samples]
                if mode == "judge":
                    text, kind = world.prompts.rubric(rng), "rubric"
                else:
                    text, kind = (f"{question}\n\n{suffix}", "cot") if cot else (question, "chat")
                world.emit(
                    acct,
                    rng,
                    float(ts),
                    [{"role": "user", "content": text}],
                    ip=ip_pool[0],
                    model=model,
                    temperature=temperature,
                    kind=kind,
                    n=n_param,
                )
