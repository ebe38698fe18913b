"""Systematic coverage: does an account reach more topics than organic traffic of the same volume would?

An account that sends ``n`` requests drawn from the population's own topic mix ``p`` is expected to touch
``E(n) = sum_t 1 - (1 - p_t)^n`` distinct topics.  People and products concentrate on what they need and stay at
or below that (ratio <= 1); a harvesting sweep walks the topic space on purpose and exceeds it (ratio > 1) —
the coverage hallmark of distillation campaigns, and the idea behind PRADA-style query-distribution tests.
Unlike raw topic breadth it does not grow with volume alone, so a heavy user is not mistaken for a sweep.

The mix ``p`` averages every account's own topic distribution (each account counts once), so one heavy account
cannot define what "organic" looks like.  Ratios of accounts with few topical requests are shrunk towards 1
(``1 + (ratio - 1) * n / (n + 20)``): five requests on five topics say nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE = "topic_coverage_ratio"
PSEUDO_REQUESTS = 20.0


def topic_coverage_ratio(account_ids: pd.Series, topics: pd.Series, index: pd.Index) -> pd.Series:
    """Per account of ``index``: distinct topics / expected distinct topics; NaN without topical requests.

    ``account_ids`` and ``topics`` are aligned per event (topic < 0 or NaN: no text, ignored).
    """
    topic = pd.to_numeric(topics, errors="coerce").to_numpy()
    keep = np.isfinite(topic) & (topic >= 0)
    if not keep.any():
        return pd.Series(np.nan, index=index, dtype="float64", name=FEATURE)
    # (account, topic) counts as int64 keys, accounts numbered in the order of their ids
    account, names = pd.factorize(account_ids.astype("string")[keep], sort=True)
    kept_topics = topic[keep].astype(np.int64)
    n_topics = int(kept_topics.max()) + 1
    keys, counts = np.unique(account.astype(np.int64) * n_topics + kept_topics, return_counts=True)
    owner, topic_of = keys // n_topics, keys % n_topics
    per_account = np.bincount(owner, weights=counts)
    distinct = np.bincount(owner).astype("float64")
    shares = counts / per_account[owner]
    mix = pd.Series(shares).groupby(topic_of).sum().reindex(range(n_topics), fill_value=0.0).to_numpy()
    mix = mix / mix.sum()
    n = per_account
    expected = (1.0 - np.power(1.0 - mix[None, :], n[:, None])).sum(axis=1)
    ratio = distinct / np.maximum(expected, 1e-9)
    shrunk = 1.0 + (ratio - 1.0) * n / (n + PSEUDO_REQUESTS)
    out = pd.Series(shrunk, index=names.astype(str), dtype="float64", name=FEATURE)
    return out.reindex(index.astype(str)).set_axis(index)
