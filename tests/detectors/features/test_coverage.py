"""Topic model and coverage features on procedural prompts."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detectors.events import RETENTION_MODES, Retention
from detectors.features import CoverageFeatures, TopicModel
from tests.detectors.features.factory import at, event, frame

# procedural "subjects": each a bag of invented words, so clusters are known by construction
GROUPS = {
    name: [f"{name}{suffix}" for suffix in ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")]
    for name in ("zorb", "quix", "blen", "frap", "mulk", "tavo", "snek", "gorp")
}


def prompt(rng: random.Random, group: str, length: int = 8) -> str:
    words = rng.sample(GROUPS[group], k=min(length, len(GROUPS[group])))
    return "please " + " ".join(words)


def corpus(seed: int = 0, per_group: int = 30) -> tuple[list[dict[str, Any]], list[str]]:
    rng = random.Random(seed)
    events, labels = [], []
    for i in range(per_group):
        for group in GROUPS:
            events.append(event(f"u{i % 5}", at(i), prompt(rng, group)))
            labels.append(group)
    return events, labels


def purity(topics: np.ndarray, labels: list[str]) -> float:
    table = pd.crosstab(pd.Series(topics, name="topic"), pd.Series(labels, name="label"))
    return float(table.max(axis=1).sum() / table.to_numpy().sum())


def test_topic_model_recovers_known_groups() -> None:
    events, labels = corpus()
    data = frame(events, "hashed")
    model = TopicModel(n_topics=8, random_state=0).fit(data)
    topics = model.transform_events(data)
    assert topics.index.equals(data.index)
    assert purity(topics.to_numpy(), labels) >= 0.9
    assert topics.nunique() >= 6


def test_topic_model_is_deterministic_and_row_order_independent() -> None:
    events, _ = corpus(seed=1)
    data = frame(events, "hashed")
    first = TopicModel(n_topics=8).fit(data).transform_events(data)
    shuffled = data.sample(frac=1.0, random_state=3)
    second = TopicModel(n_topics=8).fit(shuffled).transform_events(data)
    pd.testing.assert_series_equal(first, second)


def test_full_and_hashed_retention_give_the_same_topics() -> None:
    events, _ = corpus(seed=2)
    full, hashed = frame(events, "full"), frame(events, "hashed")
    model = TopicModel(n_topics=8).fit(hashed)
    pd.testing.assert_series_equal(model.transform_events(full), model.transform_events(hashed))


def test_events_without_text_get_topic_minus_one() -> None:
    events, _ = corpus(seed=3, per_group=4)
    model = TopicModel(n_topics=4).fit(frame(events))
    none = frame(events, "none")
    assert (model.transform_events(none) == -1).all()
    unknown = frame([event("x", at(0), "entirely unseen vocabulary here")])
    assert model.transform_events(unknown).tolist() == [-1]


def test_topic_model_on_tiny_or_empty_populations() -> None:
    for texts in ([], ["just one prompt"], ["one prompt", "one prompt", "another prompt"]):
        data = frame([event("a", at(i), t) for i, t in enumerate(texts)])
        model = TopicModel(n_topics=5).fit(data)
        topics = model.transform_events(data)
        assert len(topics) == len(texts)
        assert 1 <= model.n_topics_ <= 5


def sweep_population(retention: Retention = "hashed", seed: int = 0) -> pd.DataFrame:
    """'narrow' asks about one subject, 'sweep' walks through all of them, 'template' fills one template."""
    rng = random.Random(seed)
    events = []
    groups = list(GROUPS)
    for i in range(64):
        events.append(event("narrow", at(60 * i), prompt(rng, "zorb")))
        events.append(event("sweep", at(60 * i + 1), prompt(rng, groups[i % len(groups)])))
        events.append(event("template", at(60 * i + 2), f"Convert {i * 7} dollars to euros for invoice {i}"))
    for i in range(16):  # background users so that the population mix is not the sweep's
        events.append(event(f"bg{i}", at(60 * i + 3), prompt(rng, groups[i % 3])))
    return frame(events, retention)


def coverage(data: pd.DataFrame, **params: Any) -> pd.DataFrame:
    model = TopicModel(n_topics=8, random_state=0)
    return CoverageFeatures(topic_model=model, **params).fit(data).transform(data)


def test_sweep_covers_more_topics_than_a_narrow_user() -> None:
    out = coverage(sweep_population())
    assert out.loc["narrow", "topic_entropy"] <= 0.2
    assert out.loc["sweep", "topic_entropy"] >= 0.8
    assert out.loc["sweep", "topic_breadth"] >= 6 / 8
    assert out.loc["narrow", "topic_breadth"] <= 2 / 8
    assert out.loc["sweep", "topic_novelty_per_100_queries"] > out.loc["narrow", "topic_novelty_per_100_queries"]
    assert out.loc["narrow", "topic_divergence"] > out.loc["sweep", "topic_divergence"]


def test_topic_breadth_is_a_share_of_the_model_topics() -> None:
    out = coverage(sweep_population())
    assert ((out["topic_breadth"] > 0) & (out["topic_breadth"] <= 1)).all()
    assert out.loc["bg0", "topic_breadth"] == pytest.approx(1 / 8)
    assert out.loc["bg0", "topic_novelty_per_100_queries"] == 100


def test_template_and_near_duplicate_structure() -> None:
    out = coverage(sweep_population())
    # 64 prompts from one template with numeric slots: every prompt after the first repeats the template
    assert out.loc["template", "template_repeat_share"] == pytest.approx(63 / 64)
    assert out.loc["template", "near_duplicate_share"] >= 0.9
    assert out.loc["sweep", "near_duplicate_share"] < 0.5
    assert out.loc["sweep", "template_repeat_share"] < 0.2


def test_near_duplicates_survive_a_changed_word() -> None:
    base = "please write a detailed answer about the history of the printing press in europe and asia"
    rng = random.Random(4)
    words = base.split()
    events = []
    for i in range(40):
        variant = list(words)
        variant[rng.randrange(3, len(words))] = f"word{chr(97 + i % 26)}x"
        events.append(event("near", at(i), " ".join(variant).replace("x", "")))
        events.append(event("far", at(i), " ".join(rng.sample(words, k=len(words)))))
    out = coverage(frame(events))
    assert out.loc["near", "near_duplicate_share"] >= 0.6
    assert out.loc["near", "near_duplicate_share"] > out.loc["far", "near_duplicate_share"] + 0.3


def test_capability_shares() -> None:
    events = [
        event("coder", at(0), "debug this python function and fix the compile error"),
        event("coder", at(1), "```print(1)```"),
        event("coder", at(2), "write a poem about autumn"),
        event("agent", at(0), "look at the weather", tools=2),
        event("agent", at(1), "execute the shell command and read the files in the directory"),
        event("mathy", at(0), "prove the theorem and solve the equation for the integer"),
        event("chatty", at(0), "good morning friend"),
    ]
    out = coverage(frame(events))
    assert out.loc["coder", "capability_coding_share"] == pytest.approx(2 / 3)
    assert out.loc["coder", "capability_writing_share"] == pytest.approx(1 / 3)
    assert out.loc["agent", "capability_agentic_share"] == 1
    assert out.loc["mathy", "capability_reasoning_share"] == 1
    assert out.loc["chatty", "capability_coding_share"] == 0
    assert out.loc["mathy", "capability_concentration"] == 1
    assert out.loc["coder", "capability_concentration"] == pytest.approx((2 / 3) ** 2 + (1 / 3) ** 2)


def test_successive_distances_separate_repetition_from_a_sweep() -> None:
    out = coverage(sweep_population(), min_distances=8)
    assert out.loc["template", "successive_distance_mean"] < out.loc["sweep", "successive_distance_mean"]
    assert out.loc["narrow", "successive_distance_mean"] < out.loc["sweep", "successive_distance_mean"]
    assert math.isnan(out.loc["bg0", "successive_distance_mean"])  # one query: nothing to measure


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_retention_modes(retention: Retention) -> None:
    out = coverage(sweep_population(retention))
    if retention == "none":
        assert out.isna().all().all()
    else:
        pd.testing.assert_frame_equal(out, coverage(sweep_population("full")))


def test_a_fitted_topic_model_is_reused_not_refitted() -> None:
    data = sweep_population()
    model = TopicModel(n_topics=8).fit(data)
    extractor = CoverageFeatures(topic_model=model).fit(data.iloc[:5])
    assert extractor.topic_model_ is model
