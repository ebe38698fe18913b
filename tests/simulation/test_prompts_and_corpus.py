"""Procedural prompt text, sweeps, and drawing real prompts from a corpus directory."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from app.simulation import SimulationConfig, simulate
from app.simulation.prompts import CAPABILITIES, Corpus, PromptFactory, Sweep
from detectors.prompts import cot_score, rubric_score

PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")


def test_procedural_prompts_fill_every_slot() -> None:
    rng = np.random.default_rng(0)
    factory = PromptFactory()
    texts = [factory.instruction(rng, cap) for cap in CAPABILITIES for _ in range(200)]
    texts += [factory.human_opening(rng) for _ in range(500)] + [factory.human_followup(rng) for _ in range(200)]
    texts += [factory.rubric(rng) for _ in range(100)] + [factory.batch_item(rng, factory.batch_template(rng))]
    assert all(t.strip() and not PLACEHOLDER.search(t) for t in texts)
    assert len(set(texts)) > 0.8 * len(texts)  # slot fillers keep texts varied


def test_rubric_prompts_read_as_grading_and_cot_suffixes_vary() -> None:
    rng = np.random.default_rng(1)
    factory = PromptFactory()
    assert np.mean([rubric_score(factory.rubric(rng)) > 0.3 for _ in range(100)]) > 0.8
    suffixes = {factory.cot_suffix(rng) for _ in range(300)}
    assert len(suffixes) >= 10
    # some elicitation wordings stay below the score at which a request counts as eliciting (0.5, the behaviour
    # features' cot_threshold), as real ones do: detection cannot rest on the pattern list alone
    assert any(cot_score(s) < 0.5 for s in suffixes) and any(cot_score(s) > 0.3 for s in suffixes)


def test_sweep_keeps_reaching_new_topics_and_shards_are_disjoint() -> None:
    whole = Sweep(2)
    cells = [whole.next()[:2] for _ in range(600)]
    assert len(set(cells)) == 600
    shards = [Sweep(3, shard=i, shards=4) for i in range(4)]
    seen = [{s.next()[:2] for _ in range(100)} for s in shards]
    for i in range(4):
        for j in range(i + 1, 4):
            assert seen[i].isdisjoint(seen[j])
    indices = [s.next()[2] for s in shards]
    assert len(set(indices)) == 4


def test_a_crew_larger_than_the_sweep_shares_cells_instead_of_failing() -> None:
    """More accounts than capability x topic cells (a hydra of thousands): the accounts past the last cell start
    over, each on one cell, and still draw distinct corpus items (this raised ZeroDivisionError before)."""
    n_cells = len(Sweep(4).cells)
    shards = n_cells + 3
    late = [Sweep(4, shard=i, shards=shards) for i in range(n_cells, shards)]
    assert [len(s.cells) for s in late] == [1, 1, 1]
    assert [s.cells[0] for s in late] == [Sweep(4, shard=i, shards=shards).cells[0] for i in range(3)]
    indices = {s.next()[2] for s in late} | {s.next()[2] for s in late}
    assert len(indices) == 6


def _write_corpus(directory: Path) -> dict[str, list[str]]:
    directory.mkdir()
    files = {
        "human_chat.jsonl": [f"hey so my cat {i} keeps knocking cups off the table, why" for i in range(30)],
        "distill_tasks.jsonl": [f"Generate a list of {i} synonyms for the word happy." for i in range(60)],
        "distill_orca_system_messages.jsonl": ["You are a teacher. Explain every step of your answer."],
    }
    for name, texts in files.items():
        rows = [orjson.dumps({"text": t, "source": name}) for t in texts] + [b""]
        (directory / name).write_bytes(b"\n".join(rows))
    return files


def test_corpus_files_are_split_by_origin(tmp_path: Path) -> None:
    files = _write_corpus(tmp_path / "corpus")
    corpus = Corpus.load(tmp_path / "corpus")
    assert corpus.human == files["human_chat.jsonl"]
    assert corpus.distill == files["distill_tasks.jsonl"]
    assert corpus.system == files["distill_orca_system_messages.jsonl"]
    with pytest.raises(ValueError):
        Corpus.load(tmp_path)


def test_corpus_text_feeds_both_sides_so_origin_gives_nothing_away(tmp_path: Path) -> None:
    files = _write_corpus(tmp_path / "corpus")
    population = simulate(SimulationConfig(seed=4, scale=0.05, days=3, corpus=tmp_path / "corpus"))
    human, distill = set(files["human_chat.jsonl"]), set(files["distill_tasks.jsonl"])
    campaign_of = population.truth["accounts"]
    personas = population.truth["personas"]
    used: dict[str, set[str]] = {"human_benign": set(), "human_campaign": set(), "distill": set()}
    for event in population.events:
        text = event["messages"][-1]["content"]
        if text in human:
            used["human_campaign" if campaign_of[event["account_id"]] else "human_benign"].add(event["account_id"])
        if any(text.startswith(d) or d in text for d in distill):
            used["distill"].add(personas[event["account_id"]])
    assert used["human_benign"] and used["human_campaign"]  # attackers replay human prompts as cover
    assert {"eval_runner", "hydra"} <= used["distill"]  # benchmarks are instruction sets too
