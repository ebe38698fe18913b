"""One operator's harvesting harness: the code every account of a campaign runs its requests through.

A multi-account operation is rarely many hand-written clients: it is one script (one client build) that fills a
prompt wrapper with the next task, asks for the answer with fixed request parameters (``max_tokens``,
``temperature``, ``top_p``, ``stream``) and spreads the queue over its accounts.  Public write-ups of caught
distillation campaigns name exactly that (shared prompt structure, shared payment, coordinated timing, load
balancing across accounts) as what tied the accounts together.

Each crew draws its own harness (nothing here is an archetype constant), from the same value ranges that ordinary
users pick from, so no single value marks a campaign: what links accounts is that they share a *combination*
that few others use.  The chain-of-thought instructions themselves come from the same pool of wordings everyone
draws from (:meth:`PromptFactory.cot_suffix` / :meth:`PromptFactory.cot_system`): a harness rotates through
several of them, as data-generation pipelines do to diversify their outputs, inside its own fixed frame (an optional
role line, an output format, a quality demand).  ``harness_variation`` (the evasive preset raises it) is the
chance that an account re-draws each part of the harness for itself: its own client, its own parameters, its own
wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from app.simulation.draw import pick
from app.simulation.network import Client, client
from app.simulation.prompts import PromptFactory
from app.simulation.world import ENDPOINTS, Account

WrapperPlace = Literal["system", "prefix", "suffix"]

# Answer lengths harvesters ask for: long, and often an arbitrary round number rather than an SDK default.
MAX_TOKENS = (2048, 3000, 4000, 4096, 6000, 8000, 8192, 10000, 12000, 16000, 16384, 20000, 32000, 32768)
TEMPERATURES = (None, 0.0, 0.2, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0)
TOP_PS = (None, None, None, 0.8, 0.9, 0.95, 0.98, 1.0)

# The operator's own frame around the instruction; these fragments combine into thousands of distinct frames.
_ROLE = (
    "You are a world-class expert.", "You are an exceptionally careful reasoner.", "You are a senior engineer.",
    "You are a patient teacher.", "You are an expert problem solver.", "You are a rigorous analyst.",
    "You are a helpful, knowledgeable assistant.", "Act as a domain expert.",
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


def frame_text(rng: np.random.Generator) -> str:
    parts = [pick(rng, _FORMAT), pick(rng, _QUALITY)]
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
    instructions: tuple[str, ...]  # the chain-of-thought wordings it rotates through
    frame: str  # its fixed words around them
    place: WrapperPlace

    def wrap(self, rng: np.random.Generator, text: str) -> tuple[str, str | None]:
        """(user text, system prompt) of a task sent through this harness's chain-of-thought wrapper."""
        instruction = pick(rng, self.instructions)
        if self.place == "system":
            return text, f"{instruction} {self.frame}"
        if self.place == "prefix":
            return f"{self.frame} {instruction}\n\n{text}", None
        return f"{text}\n\n{instruction} {self.frame}", None

    def configure(self, acct: Account) -> None:
        acct.client, acct.max_tokens, acct.temperature = self.client, self.max_tokens, self.temperature
        acct.top_p, acct.stream, acct.endpoint = self.top_p, self.stream, self.endpoint


def draw_harness(rng: np.random.Generator, client_mix: str | dict[str, float], prompts: PromptFactory) -> Harness:
    build = client(rng, client_mix)
    place: WrapperPlace = pick(rng, ("system", "prefix", "suffix", "suffix"))
    draw = prompts.cot_system if place == "system" else prompts.cot_suffix
    return Harness(
        client=build,
        max_tokens=None if rng.random() < 0.15 else int(pick(rng, MAX_TOKENS)),
        temperature=pick(rng, TEMPERATURES),
        top_p=pick(rng, TOP_PS),
        stream=bool(rng.random() < build.stream_prob),
        endpoint=ENDPOINTS[1] if rng.random() < 0.2 else ENDPOINTS[0],
        instructions=tuple(draw(rng) for _ in range(int(rng.integers(4, 9)))),
        frame=frame_text(rng),
        place=place,
    )


def vary(
    harness: Harness, rng: np.random.Generator, client_mix: str | dict[str, float], prompts: PromptFactory, share: float
) -> Harness:
    """The harness one account runs: each part (client, parameters, wrapper) re-drawn with probability ``share``."""
    if share <= 0:
        return harness
    own = draw_harness(rng, client_mix, prompts)
    varied = harness
    if rng.random() < share:
        varied = replace(varied, client=own.client, stream=own.stream)
    if rng.random() < share:
        varied = replace(varied, max_tokens=own.max_tokens, temperature=own.temperature, top_p=own.top_p,
                         endpoint=own.endpoint)  # fmt: skip
    if rng.random() < share:
        varied = replace(varied, instructions=own.instructions, frame=own.frame, place=own.place)
    return varied
