"""Shared resources → account pairs, vectorised and bounded.

Every kind of evidence has the same shape: a *resource* (an IP in a time window, a card, a template band, ...)
used by a set of accounts.  A resource used by ``n`` accounts yields ``n(n-1)/2`` pairs, which is what makes
naive linking quadratic; groups larger than ``max_group_size`` are therefore *sparsified*: each member is joined
to ``degree`` others in a seeded random ring, which keeps the group connected (so a corporate card still holds its
org together) with ``n * degree`` pairs.  The rarity weights make such large groups faint anyway.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

PAIR_COLUMNS = ("a", "b", "raw")


def empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({"a": np.empty(0, np.int64), "b": np.empty(0, np.int64), "raw": np.empty(0, np.float64)})


def group_pairs(
    groups: IntArray, members: IntArray, *, max_group_size: int, degree: int, seed: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Pairs ``(a < b)`` of members sharing a group, with the group of each pair.

    ``groups``/``members`` are the distinct (group, member) memberships.
    """
    if len(groups) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), empty.copy()
    order = np.lexsort((members, groups))
    g_sorted = groups[order]
    m_sorted = members[order]
    group_ids, starts, counts = np.unique(g_sorted, return_index=True, return_counts=True)
    out_a: list[IntArray] = []
    out_b: list[IntArray] = []
    out_g: list[IntArray] = []
    for size in np.unique(counts):
        if size < 2:
            continue
        chosen = counts == size
        if size <= max_group_size:
            block = m_sorted[starts[chosen][:, None] + np.arange(size)]
            left, right = np.triu_indices(int(size), 1)
            out_a.append(block[:, left].ravel())
            out_b.append(block[:, right].ravel())
            out_g.append(np.repeat(group_ids[chosen], len(left)))
            continue
        for group, start in zip(group_ids[chosen], starts[chosen], strict=True):
            ring = np.random.default_rng([seed, int(group) & 0x7FFFFFFF]).permutation(m_sorted[start : start + size])
            steps = min(degree, int(size) // 2)
            left_parts = [ring] * steps
            right_parts = [np.roll(ring, -step) for step in range(1, steps + 1)]
            out_a.append(np.concatenate(left_parts))
            out_b.append(np.concatenate(right_parts))
            out_g.append(np.full(len(ring) * steps, group, dtype=np.int64))
    if not out_a:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), empty.copy()
    a = np.concatenate(out_a).astype(np.int64)
    b = np.concatenate(out_b).astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo, hi, np.concatenate(out_g).astype(np.int64)


def sum_pairs(a: IntArray, b: IntArray, values: FloatArray, n_accounts: int) -> pd.DataFrame:
    """Sum ``values`` per distinct pair → a pair table (a, b, raw)."""
    if len(a) == 0:
        return empty_pairs()
    key = a * np.int64(n_accounts) + b
    unique_keys, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    return pd.DataFrame({"a": unique_keys // n_accounts, "b": unique_keys % n_accounts, "raw": sums})


def resource_pairs(
    memberships: pd.DataFrame,
    resource_weight: pd.Series,
    *,
    n_accounts: int,
    max_group_size: int,
    degree: int,
    seed: int,
    group_column: str = "group",
    resource_column: str = "resource",
) -> pd.DataFrame:
    """Pairs co-occurring in a group, each distinct shared resource counted once with its weight.

    ``memberships`` has columns account, ``group_column`` and ``resource_column`` (ints): a group is where
    co-occurrence is observed (e.g. an IP within one time window), the resource is what is counted (the IP).
    ``resource_weight`` maps a resource code to its evidence weight (e.g. its rarity).
    """
    distinct = memberships[["account", group_column, resource_column]].drop_duplicates([group_column, "account"])
    a, b, groups = group_pairs(
        distinct[group_column].to_numpy(np.int64),
        distinct["account"].to_numpy(np.int64),
        max_group_size=max_group_size,
        degree=degree,
        seed=seed,
    )
    if len(a) == 0:
        return empty_pairs()
    group_resource = distinct.drop_duplicates(group_column).set_index(group_column)[resource_column]
    resources = group_resource.reindex(groups).to_numpy(np.int64)
    shared = pd.DataFrame({"a": a, "b": b, "resource": resources}).drop_duplicates()
    weights = resource_weight.reindex(shared["resource"].to_numpy()).fillna(0.0).to_numpy(np.float64)
    return sum_pairs(
        shared["a"].to_numpy(np.int64), shared["b"].to_numpy(np.int64), weights, n_accounts
    )


def rarity(n_accounts_using: pd.Series) -> pd.Series:
    """Resource-allocation rarity ``1 / (n - 1)``: each resource hands one unit of evidence to each of its users,
    split among the others, so an IP behind a carrier NAT with 300 users is worth 1/299 per pair, a private one
    shared by two accounts a full unit (Zhou, Lü & Zhang 2009)."""
    n = n_accounts_using.astype("float64")
    return (1.0 / (n - 1.0)).where(n >= 2, 0.0)


def log_rarity(n_accounts_using: pd.Series, n_population: int) -> pd.Series:
    """IDF-style rarity in [0, 1]: ``log(N / n) / log(N)``, for resources that large groups legitimately share
    (prompt templates): gentler than :func:`rarity`, still 0 for a resource used by everyone."""
    n = n_accounts_using.astype("float64").clip(lower=1.0)
    population = max(float(n_population), 2.0)
    return (np.log(population / n) / np.log(population)).clip(lower=0.0)
