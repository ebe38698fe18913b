"""Complementary coverage: accounts whose topic sets overlap far less than chance, the mark of a sharded sweep.

Two unrelated users who each touch many topics share the popular ones; accounts that split one crawl between
them do not.  For a pair we compare the topics they share with the number expected if each had drawn its topics
from the population's topic popularity (Poisson lower tail).  Disjointness alone is the norm for narrow accounts,
so this is only scored for pairs that other evidence already brought together, and only for accounts with
``coverage_min_topics`` topics or more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.pairs import empty_pairs

# Evidence starts where disjointness would happen by chance less than one time in ten.
CHANCE_DECADES = 1.0


def account_topics(data: LinkingInput) -> pd.DataFrame:
    known = data.events["topic"].to_numpy() >= 0
    return (
        pd.DataFrame(
            {"account": data.events["account"].to_numpy()[known], "topic": data.events["topic"].to_numpy()[known]}
        )
        .drop_duplicates()
        .sort_values(["account", "topic"])
        .reset_index(drop=True)
    )


def _one_way(pairs: pd.DataFrame, topics: pd.DataFrame, chance: pd.Series, n_topics: int) -> pd.DataFrame:
    """For each pair: topics of ``a`` that ``b`` also has, and the number expected by chance."""
    sizes = topics.groupby("account").size()
    first = sizes.cumsum() - sizes
    counts = sizes.reindex(pairs["a"]).to_numpy()
    rows = np.repeat(np.arange(len(pairs)), counts)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    topic = topics["topic"].to_numpy()[np.repeat(first.reindex(pairs["a"]).to_numpy(), counts) + within]
    partner = pairs["b"].to_numpy()[rows]
    present = topics["account"].to_numpy() * np.int64(n_topics) + topics["topic"].to_numpy()
    keys = partner * np.int64(n_topics) + topic
    position = np.clip(np.searchsorted(present, keys), 0, len(present) - 1)
    shared = present[position] == keys
    expected = np.minimum(1.0, sizes.reindex(partner).to_numpy() * chance.reindex(topic).to_numpy())
    return pd.DataFrame({"pair": rows, "shared": shared, "expected": expected}).groupby("pair").sum()


def coverage_pairs(data: LinkingInput, candidates: pd.DataFrame, config: LinkingConfig) -> pd.DataFrame:
    topics = account_topics(data)
    if topics.empty or candidates.empty:
        return empty_pairs()
    sizes = topics.groupby("account").size()
    broad = sizes[sizes >= config.coverage_min_topics].index
    pairs = candidates.loc[candidates["a"].isin(broad) & candidates["b"].isin(broad), ["a", "b"]]
    pairs = pairs.drop_duplicates().reset_index(drop=True)
    if pairs.empty:
        return empty_pairs()
    users = topics.groupby("topic").size().astype(np.float64)
    # P(an account with k topics has topic t) ≈ k * popularity(t) / (sum of popularities)
    chance = users / users.sum()
    n_topics = int(topics["topic"].max()) + 1
    forward = _one_way(pairs, topics, chance, n_topics)
    backward = _one_way(pairs.rename(columns={"a": "b", "b": "a"}), topics, chance, n_topics)
    shared = forward["shared"].to_numpy()
    expected = (forward["expected"].to_numpy() + backward["expected"].to_numpy()) / 2.0
    surprise = -poisson.logcdf(shared, np.maximum(expected, 1e-9)) / np.log(10.0)
    raw = np.clip(surprise - CHANCE_DECADES, 0.0, None)
    out = pd.DataFrame({"a": pairs["a"].to_numpy(), "b": pairs["b"].to_numpy(), "raw": raw})
    return out[out["raw"] > 0].reset_index(drop=True)
