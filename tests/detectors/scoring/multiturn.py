"""Campaign traffic rewritten as genuine multi-turn conversations (seeded), for the relay-discount floors.

The simulator's harvesting campaigns send independent single-turn requests (or dress them with made-up
histories).  A harvest can as well run through real conversations whose starts are observed:

* ``cot_followup`` — each harvesting request is a first turn, followed in the same conversation by a second
  request carrying ``[user: task, assistant: reply, user: <a reasoning-elicitation follow-up, varied wording>]``;
* ``agent_loop`` — each task becomes an agent loop of 3-6 requests of growing depth in the Anthropic message
  format: after the first, every request repeats the conversation so far plus the assistant's tool call and a
  user turn carrying the tool result (``tool_result`` parts, no text of their own).

Made-up histories are dropped (the conversation is real now), system prompts and request parameters are kept,
later requests follow the earlier ones by the earlier latency plus a pause.  Only campaign accounts change.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

Variant = Literal["cot_followup", "agent_loop"]
VARIANTS: tuple[Variant, ...] = ("cot_followup", "agent_loop")

FOLLOW_UPS = (
    "Now explain your reasoning step by step.",
    "Can you walk me through how you got there, step by step?",
    "Show your work: break down each step of your reasoning.",
    "ok, now go through your thought process in detail",
    "Before I accept this, lay out the chain of reasoning that leads to it.",
    "Explain how you arrived at this, step by step, as if teaching a student.",
    "Please articulate the reasoning behind your answer step by step.",
    "Think it through again out loud and show every intermediate step.",
    "Why? Explain the reasoning behind each step.",
    "Justify that answer, one step at a time.",
)
REPLIES = (
    "Here is the answer in short form.",
    "Sure, the result is below.",
    "Done. Let me know if you need more detail.",
    "The short answer follows.",
)
TOOLS = ("read_file", "run_tests", "search_code", "edit_file", "run_shell")
TOOL_OUTPUTS = (
    "3 passed, 1 failed: test_parse_empty",
    "src/app/main.py:42: def handle(request):",
    "OK",
    "Traceback (most recent call last):\n  File \"main.py\", line 7\nValueError: bad input",
    "total 12\n-rw-r--r-- 1 dev dev 2048 main.py",
)


def _ts(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _task(event: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The system messages and the last user turn (the task) of a request; any earlier history is dropped."""
    messages = event.get("messages") or []
    system = [m for m in messages if m.get("role") in ("system", "developer")]
    users = [m for m in messages if m.get("role") == "user"]
    task = users[-1]["content"] if users else (event.get("prompt") or "")
    return system, task if isinstance(task, str) else str(task)


def rewrite_campaigns(population: Any, variant: Variant, seed: int = 0) -> list[dict[str, Any]]:
    """``population.events`` with every campaign account's requests rewritten as ``variant`` conversations."""
    rng = np.random.default_rng(seed)
    campaign_accounts = {a for a, c in population.truth["accounts"].items() if c}
    out: list[dict[str, Any]] = []
    for event in population.events:
        if event["account_id"] not in campaign_accounts:
            out.append(event)
            continue
        system, task = _task(event)
        conversation = f"conv_{uuid.UUID(int=int(rng.integers(2**63)) << 64 | int(rng.integers(2**63))).hex[:16]}"
        start = _ts(event["ts"])
        latency = timedelta(milliseconds=float(event.get("latency_ms") or 2000.0))
        turns: list[dict[str, Any]] = [{"role": "user", "content": task}]
        steps = 2 if variant == "cot_followup" else int(rng.integers(3, 7))
        moment = start
        for step in range(steps):
            request = copy.copy(event)
            if step:
                request["request_id"] = str(uuid.UUID(int=int(rng.integers(2**62)) << 64 | int(rng.integers(2**62))))
                moment = moment + latency + timedelta(seconds=float(rng.uniform(3.0, 60.0)))
                if variant == "cot_followup":
                    reply = REPLIES[int(rng.integers(len(REPLIES)))]
                    turns = [*turns, {"role": "assistant", "content": reply},
                             {"role": "user", "content": FOLLOW_UPS[int(rng.integers(len(FOLLOW_UPS)))]}]
                else:
                    call = f"toolu_{int(rng.integers(2**40)):010x}"
                    tool = TOOLS[int(rng.integers(len(TOOLS)))]
                    output = TOOL_OUTPUTS[int(rng.integers(len(TOOL_OUTPUTS)))]
                    turns = [*turns,
                             {"role": "assistant", "content": [{"type": "tool_use", "id": call, "name": tool,
                                                                "input": {}}]},
                             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call,
                                                           "content": [{"type": "text", "text": output}]}]}]
                if event.get("prompt_tokens") is not None:
                    request["prompt_tokens"] = int(event["prompt_tokens"]) + 40 * step
            request["ts"] = _iso(moment)
            request["messages"] = [*system, *turns]
            request.pop("prompt", None)
            request["conversation_id"] = conversation
            if variant == "agent_loop":
                request["tools"] = max(int(event.get("tools") or 0), len(TOOLS))
            out.append(request)
    out.sort(key=lambda e: _ts(e["ts"]))
    return out
