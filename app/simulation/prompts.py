"""Prompt text for simulated requests: procedural by default, real corpora when given.

Procedural text is topic x capability x template x slot filler (:mod:`.vocabulary`), so tests
run from a bare clone.  With a corpus directory, ``human_*`` files feed human personas and
some attackers (who replay human prompts), ``distill_*`` files feed campaigns and also eval
runners and batch jobs: where a text came from must never give the answer away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.simulation import vocabulary as v
from app.simulation.draw import pick

CAPABILITIES: tuple[str, ...] = tuple(v.INSTRUCTION_TEMPLATES)
# what campaigns harvest most: agentic coding, tool use, reasoning
CAMPAIGN_FOCUS = {
    "coding": 0.3, "agentic": 0.15, "reasoning": 0.3, "knowledge": 0.15, "writing": 0.05, "analysis": 0.05,
}  # fmt: skip


@dataclass
class Corpus:
    """Prompt texts read from a directory of JSONL files ``{"text", "source"}``."""

    human: list[str] = field(default_factory=list)
    distill: list[str] = field(default_factory=list)
    system: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> Corpus:
        corpus = cls()
        files = sorted(Path(directory).glob("*.jsonl"))
        if not files:
            raise ValueError(f"no *.jsonl files in corpus directory {directory}")
        for path in files:
            texts = [orjson.loads(line)["text"] for line in path.read_bytes().splitlines() if line.strip()]
            texts = [t for t in texts if isinstance(t, str) and t.strip()]
            if path.name.startswith("human_"):
                corpus.human.extend(texts)
            elif "system" in path.name:
                corpus.system.extend(texts)
            else:
                corpus.distill.extend(texts)
        return corpus


class _Slots(dict[str, Any]):
    """Fills template slots on demand, so a template pays only for the slots it uses."""

    def __init__(self, factory: PromptFactory, rng: np.random.Generator, topic: str | None) -> None:
        super().__init__()
        self.factory, self.rng = factory, rng
        if topic is not None:
            self["topic"] = topic

    def __missing__(self, key: str) -> Any:
        value = self.factory.slot(key, self.rng)
        self[key] = value
        return value


def _with_typos(text: str, rng: np.random.Generator, rate: float) -> str:
    """People type fast: lower case, dropped punctuation and swapped letters."""
    if rng.random() < 0.6:
        text = text.lower()
    if text.endswith((".", "?")) and rng.random() < 0.5:
        text = text[:-1]
    if rate <= 0 or rng.random() > rate * 4:
        return text
    chars = list(text)
    for _ in range(1 + int(rng.random() * 2)):
        i = int(rng.random() * (len(chars) - 1))
        if chars[i].isalpha() and chars[i + 1].isalpha():
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


class PromptFactory:
    """Every prompt text the simulator emits comes from here."""

    def __init__(self, corpus: Corpus | None = None, *, corpus_share: float = 0.8) -> None:
        self.corpus = corpus
        self.corpus_share = corpus_share

    # -- slot fillers ---------------------------------------------------------------------
    def slot(self, key: str, rng: np.random.Generator) -> Any:
        simple = _SIMPLE_SLOTS.get(key)
        if simple is not None:
            return pick(rng, simple)
        if key == "n":
            return int(rng.integers(2, 60))
        if key == "problem":
            return self.problem(rng)
        if key == "table":
            return self._table(rng)
        if key == "tools":
            return ", ".join(rng.choice(v.TOOLS, size=int(rng.integers(2, 6)), replace=False).tolist())
        if key in ("question", "answer", "answer2"):
            return self.problem(rng) if key == "question" else self.assistant_reply(rng, pick(rng, v.ALL_TOPICS))
        if key == "review":
            return pick(rng, v.REVIEW_BITS).format(n=int(rng.integers(2, 30))) + ". " + pick(rng, v.SENTENCES)
        if key == "order":
            return f"Hi, please send {int(rng.integers(1, 9))} x {pick(rng, v.TITLE_BITS)} at ${rng.integers(5, 300)}."
        if key in ("ticket", "agent_task"):
            bits = v.TICKET_BITS if key == "ticket" else v.AGENT_TASKS
            return pick(rng, bits).format_map(_Slots(self, rng, None))
        if key == "code_task":
            return pick(rng, v.CODE_TASKS).format(n=int(rng.integers(2, 100)), word=pick(rng, v.WORDS))
        if key == "company":
            return pick(rng, ("Acme", "Northwind", "Globex", "Initech", "Umbrella Health", "Stark Logistics"))
        raise KeyError(key)

    def problem(self, rng: np.random.Generator) -> str:
        a, b, c, d = (int(x) for x in rng.integers(2, 40, size=4))
        r1, r2 = (int(x) for x in rng.integers(-9, 10, size=2))
        name, name2 = pick(rng, v.NAMES), pick(rng, v.NAMES)
        kind = int(rng.random() * 12)
        return (
            f"A train leaves {pick(rng, v.CITIES)} at {a % 12 + 1}:00 travelling at {a * 5} km/h; a second train "
            f"leaves {b * 10} km behind it one hour later at {b * 5 + 60} km/h. When does it catch up?",
            f"If {a} workers build {b} walls in {c} days, how many days do {d} workers need for {b + c} walls?",
            f"Find all real solutions of x^2 - ({r1 + r2})x + ({r1 * r2}) = 0.",
            f"What is the probability that the sum of two fair dice is {a % 11 + 2}?",
            f"{name} has {a} apples, gives {b % a} to {name2} and buys {c % 5 + 1} bags of {d} apples. "
            f"How many apples does {name} have now?",
            f"In how many ways can {a % 9 + 3} people sit around a round table?",
            f"A rectangle has perimeter {2 * (a + b)} cm and area {a * b} cm^2. Find its side lengths.",
            f"What is the remainder when {a}^{b} is divided by {c + 3}?",
            f"A price is cut by {a}% and then raised by {b}%. What is the net percentage change?",
            f"Differentiate f(x) = {a}x^{b % 6 + 2} - {c}x + {d} and find where f'(x) = 0.",
            f"Is {a * 97 + b} a prime number? Justify.",
            f"{name} is older than {name2}, and {name2} is older than {pick(rng, v.NAMES)} by {c % 7 + 1} years. "
            f"If their ages sum to {a + b + c + 40}, what constraints hold on {name}'s age?",
        )[kind]

    def _table(self, rng: np.random.Generator) -> str:
        fields = rng.choice(v.FIELDS, size=3, replace=False).tolist()
        rows = [" | ".join(fields)] + [" | ".join(str(int(x)) for x in rng.integers(1, 500, size=3)) for _ in range(5)]
        return "\n".join(rows)

    # -- whole prompts ----------------------------------------------------------------------
    def human_opening(self, rng: np.random.Generator, *, topic: str | None = None, typo_rate: float = 0.05) -> str:
        if self.corpus and self.corpus.human and rng.random() < self.corpus_share:
            return str(pick(rng, self.corpus.human))
        return _with_typos(pick(rng, v.HUMAN_TEMPLATES).format_map(_Slots(self, rng, topic)), rng, typo_rate)

    def human_followup(self, rng: np.random.Generator, *, typo_rate: float = 0.05) -> str:
        if self.corpus and self.corpus.human and rng.random() < self.corpus_share * 0.3:
            return str(pick(rng, self.corpus.human))
        return _with_typos(pick(rng, v.HUMAN_FOLLOWUPS).format_map(_Slots(self, rng, None)), rng, typo_rate)

    def instruction(self, rng: np.random.Generator, capability: str, topic: str | None = None) -> str:
        """An instruction-style task (what distillation sets and benchmarks look like)."""
        if self.corpus and self.corpus.distill and rng.random() < self.corpus_share:
            return str(pick(rng, self.corpus.distill))
        return str(pick(rng, v.INSTRUCTION_TEMPLATES[capability]).format_map(_Slots(self, rng, topic)))

    def corpus_item(self, index: int) -> str | None:
        """The ``index``-th distillation text (modulo the corpus), for sweeps that never repeat."""
        if not self.corpus or not self.corpus.distill:
            return None
        return self.corpus.distill[index % len(self.corpus.distill)]

    def cot_suffix(self, rng: np.random.Generator) -> str:
        return str(pick(rng, v.COT_SUFFIXES))

    def cot_system(self, rng: np.random.Generator) -> str:
        if self.corpus and self.corpus.system and rng.random() < 0.5:
            return str(pick(rng, self.corpus.system))
        return str(pick(rng, v.COT_SYSTEM_PROMPTS))

    def plain_system(self, rng: np.random.Generator) -> str:
        return str(pick(rng, v.PLAIN_SYSTEM_PROMPTS).format_map(_Slots(self, rng, None)))

    def rubric(self, rng: np.random.Generator) -> str:
        slots = _Slots(self, rng, None)
        if self.corpus and self.corpus.distill and rng.random() < self.corpus_share:
            slots["question"] = pick(rng, self.corpus.distill)
        return str(pick(rng, v.RUBRIC_TEMPLATES).format_map(slots))

    def batch_template(self, rng: np.random.Generator) -> str:
        return str(pick(rng, v.BATCH_TASKS))

    def batch_item(self, rng: np.random.Generator, template: str) -> str:
        return template.format_map(_Slots(self, rng, None))

    def assistant_reply(self, rng: np.random.Generator, topic: str) -> str:
        opener = pick(rng, v.ANSWER_OPENERS).format(topic=topic, n=int(rng.integers(2, 500)))
        return f"{opener} {pick(rng, v.SENTENCES).capitalize()}."


_SIMPLE_SLOTS: dict[str, Sequence[Any]] = {
    "topic": v.ALL_TOPICS, "topic2": v.ALL_TOPICS, "audience": v.AUDIENCES, "lang": v.LANGUAGES,
    "lang2": v.LANGUAGES, "snippet": v.SNIPPETS, "framework": v.FRAMEWORKS, "form": v.WRITING_FORMS,
    "style": v.STYLES, "sentence": v.SENTENCES, "entity": v.ENTITIES, "field": v.FIELDS, "field2": v.FIELDS,
    "error": v.ERRORS, "code_task_short": v.CODE_TASKS_SHORT, "complaint": v.COMPLAINTS,
    "language": v.LANGUAGES_SPOKEN, "food": v.FOODS, "food2": v.FOODS, "word": v.WORDS, "weekday": v.WEEKDAYS,
    "title": v.TITLE_BITS,
}  # fmt: skip


class Sweep:
    """A campaign's walk over capability x topic cells (or corpus items) that keeps reaching new ground.

    ``shard``/``shards`` split one walk between a campaign's accounts (topic sharding), so each account alone
    looks narrow while the campaign as a whole covers everything.  The walk's order comes from ``walk_seed``,
    which the crew draws once: every shard of it cuts the same permutation, so shards never overlap.
    """

    def __init__(
        self, walk_seed: int, *, focus: dict[str, float] | None = None, shard: int = 0, shards: int = 1
    ) -> None:
        focus = focus or CAMPAIGN_FOCUS
        walk = np.random.default_rng(walk_seed)
        cells = [(cap, topic) for cap in focus for topic in v.ALL_TOPICS]
        weights = np.array([focus[cap] for cap, _ in cells], dtype=float)
        # weighted shuffle: each capability shows up in proportion to the campaign's focus
        keys = walk.random(len(cells)) ** (1.0 / weights)
        order = np.argsort(-keys, kind="stable")
        # a crew with more accounts than cells: the accounts past the last cell start over (shards then share cells)
        self.cells = [cells[i] for i in order][shard % len(cells) :: shards]
        self.corpus_offset = int(walk.integers(0, 1 << 30))
        self.shard, self.shards, self.position = shard, shards, 0

    def next(self) -> tuple[str, str, int]:
        """(capability, topic, corpus index) of the next prompt of this walk."""
        cap, topic = self.cells[self.position % len(self.cells)]
        corpus_index = self.corpus_offset + self.position * self.shards + self.shard
        self.position += 1
        return cap, topic, corpus_index
