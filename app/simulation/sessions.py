"""Shapes of activity shared by personas and campaigns: when sessions start, what a chat or an
agent session sends, and hour-of-day-shaped request streams."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.simulation import vocabulary as v
from app.simulation.clock import DAY, HOUR, local_hour_draw
from app.simulation.draw import hex_id, pick
from app.simulation.world import Account, World

IpChoice = Callable[[float], str]  # session start → IP used for the session
MAX_HISTORY = 10
REGENERATE_PROB = 0.04

AGENT_SYSTEM_PROMPTS = (
    "You are an autonomous coding agent working in the user's repository. Use the tools to read, search and "
    "edit files and to run commands. Make minimal, correct changes and explain them briefly.",
    "You are a senior software engineer pair-programming with the user inside their IDE. You can call tools to "
    "inspect the workspace. Never invent file contents; read them first.",
    "You are an AI assistant integrated into a code editor. Respond with tool calls when you need information. "
    "Keep answers short and show diffs for edits.",
)  # fmt: skip


def session_starts(
    world: World,
    acct: Account,
    rng: np.random.Generator,
    profile: np.ndarray,
    *,
    active_prob: float,
    sessions_mean: float,
    weekend_factor: float = 1.0,
) -> list[float]:
    """Session start times: active days drawn at ``active_prob``, hours from the local ``profile``."""
    starts: list[float] = []
    for midnight in world.window.local_day_starts(acct.offset):
        prob = active_prob * (weekend_factor if world.window.is_weekend(midnight, acct.offset) else 1.0)
        if rng.random() >= prob:
            continue
        for _ in range(1 + int(rng.poisson(max(sessions_mean - 1.0, 0.0)))):
            ts = midnight + local_hour_draw(rng, profile) * HOUR
            if world.window.start <= ts < world.window.end and ts >= acct.created_ts:
                starts.append(ts)
    return sorted(starts)


def shaped_times(
    world: World, rng: np.random.Generator, offset: float, per_day: float, profile: np.ndarray, weekend: float = 1.0
) -> np.ndarray:
    """A request stream of ``per_day`` average rate whose hour-of-day follows ``profile`` (local time)."""
    shares = profile / profile.sum()
    out: list[np.ndarray] = []
    for midnight in world.window.local_day_starts(offset):
        rate = per_day * (weekend if world.window.is_weekend(midnight, offset) else 1.0)
        counts = rng.poisson(rate * shares)
        for hour in np.flatnonzero(counts):
            out.append(midnight + (hour + rng.random(int(counts[hour]))) * HOUR)
    times = np.sort(np.concatenate(out)) if out else np.empty(0)
    return times[(times >= world.window.start) & (times < world.window.end)]


def trimmed(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Clients drop the oldest turns (keeping the system prompt) once a conversation grows long."""
    if len(messages) <= MAX_HISTORY:
        return messages
    head = messages[:1] if messages[0]["role"] == "system" else []
    return head + messages[-(MAX_HISTORY - len(head)) :]


def chat_session(
    world: World,
    acct: Account,
    rng: np.random.Generator,
    start: float,
    *,
    turns: int,
    ip: str,
    system: str | None = None,
    opening: str | None = None,
    topic: str | None = None,
    think_s: float = 45.0,
    typo_rate: float = 0.05,
    end_user_id: str | None = None,
) -> float:
    """A human multi-turn chat; returns when it ended."""
    prompts = world.prompts
    history: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    conversation = hex_id(rng, "conv_", 8) if acct.sends_conversation_id else None
    ts = start
    for turn in range(turns):
        if turn == 0:
            text = opening or prompts.human_opening(rng, topic=topic, typo_rate=typo_rate)
        else:
            text = prompts.human_followup(rng, typo_rate=typo_rate)
        history = [*history, {"role": "user", "content": text}]
        sent = trimmed(history)
        world.emit(acct, rng, ts, sent, ip=ip, conversation_id=conversation, end_user_id=end_user_id)
        if rng.random() < REGENERATE_PROB:  # "regenerate": the identical request again, seconds later
            ts += 5.0 + 20.0 * rng.random()
            world.emit(acct, rng, ts, sent, ip=ip, conversation_id=conversation, end_user_id=end_user_id)
        history = [*history, {"role": "assistant", "content": prompts.assistant_reply(rng, topic or "it")}]
        ts += think_s * math.exp(0.8 * rng.standard_normal()) + 5.0 + len(text) * 0.15
    return ts


def agent_session(
    world: World,
    acct: Account,
    rng: np.random.Generator,
    start: float,
    *,
    steps: int,
    ip: str,
    system: str,
    tools: int,
) -> float:
    """An IDE agent loop: one task, then many tool-call round trips with a growing context."""
    prompts = world.prompts
    if rng.random() < 0.5:
        task = prompts.instruction(rng, "coding" if rng.random() < 0.7 else "agentic")
    else:
        task = prompts.human_opening(rng, topic=pick(rng, v.TOPICS["technology"]))
    history: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": task}]
    context_tokens = (len(system) + len(task)) // 4 + 1500 * tools // 10  # tool schemas count too
    conversation = hex_id(rng, "conv_", 8)
    ts = start
    for step in range(steps):
        world.emit(
            acct,
            rng,
            ts,
            trimmed(history),
            ip=ip,
            kind="agent",
            tools=tools,
            conversation_id=conversation,
            prompt_tokens=context_tokens,
        )
        tool = pick(rng, v.TOOLS)
        call = f'{{"tool": "{tool}", "arguments": {{"path": "src/module_{int(rng.integers(1, 40))}.py"}}}}'
        result = f"{tool} output: {int(rng.integers(1, 400))} lines"
        history = [*history, {"role": "assistant", "content": call}, {"role": "tool", "content": result}]
        context_tokens += 120 + int(rng.integers(50, 900))
        if step % 9 == 8 and rng.random() < 0.5:  # the human steps in
            history = [*history, {"role": "user", "content": prompts.human_followup(rng)}]
            ts += 30.0 * math.exp(rng.standard_normal())
        ts += 2.0 + 6.0 * math.exp(0.7 * rng.standard_normal())
    return ts


def sticky_ip(pool: Sequence[str]) -> Callable[[np.random.Generator], str]:
    return lambda rng: str(pick(rng, pool))


def day_index(world: World, ts: float) -> int:
    return int((ts - world.window.start) // DAY)
