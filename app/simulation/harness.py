"""One operator's harvesting harness: the code every account of a campaign runs its requests through.

A multi-account operation is rarely many hand-written clients: it is one script (one client build) that fills a
prompt wrapper with the next task, asks for the answer with fixed request parameters (``max_tokens``,
``temperature``, ``top_p``, ``stream``) and spreads the queue over its accounts.  Public write-ups of caught
distillation campaigns name exactly that (shared prompt structure, shared payment, coordinated timing, load
balancing across accounts) as what tied the accounts together.

Each crew draws its own harness (nothing here is an archetype constant), from the same value ranges that ordinary
users pick from, so no single value marks a campaign: what links accounts is that they share a *combination*
that few others use.  ``harness_variation`` (the evasive preset raises it) is the chance that an account
re-draws each part of the harness for itself: its own client, its own parameters, its own wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from app.simulation.draw import pick
from app.simulation.network import Client, client
from app.simulation.world import ENDPOINTS, Account

WrapperPlace = Literal["system", "prefix", "suffix"]

# Answer lengths harvesters ask for: long, and often an arbitrary round number rather than an SDK default.
MAX_TOKENS = (2048, 3000, 4000, 4096, 6000, 8000, 8192, 10000, 12000, 16000, 16384, 20000, 32000, 32768)
TEMPERATURES = (None, 0.0, 0.2, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0)
TOP_PS = (None, None, None, 0.8, 0.9, 0.95, 0.98, 1.0)

# Prompt wrappers are written by each operator; these fragments combine into thousands of distinct wrappers.
_ROLE = (
    "You are a world-class expert.", "You are an exceptionally careful reasoner.", "You are a senior engineer.",
    "You are a patient teacher.", "You are an expert problem solver.", "You are a rigorous analyst.",
    "You are a helpful, knowledgeable assistant.", "Act as a domain expert.",
)  # fmt: skip
_METHOD = (
    "Think through the task step by step before answering.", "Reason about the problem in detail first.",
    "Break the task into sub-problems and solve each in turn.", "Write out your complete chain of reasoning.",
    "Consider several approaches, compare them, then pick the best.", "Derive the answer from first principles.",
    "Explain every intermediate step and why it follows.", "Plan the answer, then execute the plan explicitly.",
)  # fmt: skip
_FORMAT = (
    "Put your reasoning between <thinking> and </thinking>, then give the answer.",
    "End with a line of the form 'Final answer: ...'.", "Use numbered steps, then a short summary.",
    "Return the reasoning under '## Reasoning' and the result under '## Answer'.",
    "Format the answer as Markdown with headers for each part.", "Give the final answer in a box: [[answer]].",
    "Answer in JSON with the keys 'reasoning' and 'answer'.", "Finish with 'Answer:' followed by the result only.",
)  # fmt: skip
_QUALITY = (
    "", "Do not skip any step.", "Be exhaustive.", "Verify the result before finishing.",
    "Check your work for errors.", "Be precise and complete.", "Mention edge cases.", "Cite the rules you apply.",
)  # fmt: skip


def wrapper_text(rng: np.random.Generator) -> str:
    parts = [pick(rng, _METHOD), pick(rng, _FORMAT), pick(rng, _QUALITY)]
    if rng.random() < 0.5:
        parts.insert(0, pick(rng, _ROLE))
    return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Harness:
    client: Client
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stream: bool
    endpoint: str
    wrapper: str
    place: WrapperPlace

    def wrap(self, text: str) -> tuple[str, str | None]:
        """(user text, system prompt) of a task sent through this harness's chain-of-thought wrapper."""
        if self.place == "system":
            return text, self.wrapper
        if self.place == "prefix":
            return f"{self.wrapper}\n\n{text}", None
        return f"{text}\n\n{self.wrapper}", None

    def configure(self, acct: Account) -> None:
        acct.client, acct.max_tokens, acct.temperature = self.client, self.max_tokens, self.temperature
        acct.top_p, acct.stream, acct.endpoint = self.top_p, self.stream, self.endpoint


def draw_harness(rng: np.random.Generator, client_mix: str | dict[str, float]) -> Harness:
    build = client(rng, client_mix)
    return Harness(
        client=build,
        max_tokens=None if rng.random() < 0.15 else int(pick(rng, MAX_TOKENS)),
        temperature=pick(rng, TEMPERATURES),
        top_p=pick(rng, TOP_PS),
        stream=bool(rng.random() < build.stream_prob),
        endpoint=ENDPOINTS[1] if rng.random() < 0.2 else ENDPOINTS[0],
        wrapper=wrapper_text(rng),
        place=pick(rng, ("system", "prefix", "suffix", "suffix")),
    )


def vary(harness: Harness, rng: np.random.Generator, client_mix: str | dict[str, float], share: float) -> Harness:
    """The harness one account runs: each part (client, parameters, wrapper) re-drawn with probability ``share``."""
    if share <= 0:
        return harness
    own = draw_harness(rng, client_mix)
    varied = harness
    if rng.random() < share:
        varied = replace(varied, client=own.client, stream=own.stream)
    if rng.random() < share:
        varied = replace(varied, max_tokens=own.max_tokens, temperature=own.temperature, top_p=own.top_p,
                         endpoint=own.endpoint)  # fmt: skip
    if rng.random() < share:
        varied = replace(varied, wrapper=own.wrapper, place=own.place)
    return varied
