"""Shared resources → account pairs, vectorised and bounded.

Every kind of evidence has the same shape: a *resource* (an IP in a time window, a card, a template family, ...)
used by a set of accounts.  A resource used by ``n`` accounts yields ``n(n-1)/2`` pairs, which is what makes
naive linking quadratic; groups larger than ``max_group_size`` are therefore *sparsified*: each member is joined
to about ``degree`` others (rings in seeded per-account orders), which keeps the group connected and of small
diameter (so a corporate card still holds its org together) with about ``n * degree`` pairs.  The rarity weights
make such large groups faint anyway.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import pdtrc

from detectors.arrays import order_by, unique_inverse
from detectors.linking.config import LinkingConfig
from detectors.linking.minhash import splitmix64

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({"a": np.empty(0, np.int64), "b": np.empty(0, np.int64), "raw": np.empty(0, np.float64)})


def group_pairs(
    groups: IntArray, members: IntArray, *, max_group_size: int, degree: int, seed: int
) -> tuple[IntArray, IntArray]:
    """Row positions ``(i, j)`` of the pairs of memberships sharing a group, with ``members[i] < members[j]``.

    ``groups``/``members`` are distinct (group, member) memberships, one per row.
    """
    empty = np.empty(0, np.int64)
    if len(groups) == 0:
        return empty, empty.copy()
    order = order_by(groups, members)  # distinct memberships
    g_sorted = groups[order]
    _, starts, counts = np.unique(g_sorted, return_index=True, return_counts=True)
    out_i: list[IntArray] = []
    out_j: list[IntArray] = []
    for size in np.unique(counts):
        if size < 2:
            continue
        chosen_starts = starts[counts == size]
        if size <= max_group_size:
            block = order[chosen_starts[:, None] + np.arange(size)]
            left, right = np.triu_indices(int(size), 1)
            out_i.append(block[:, left].ravel())
            out_j.append(block[:, right].ravel())
            continue
        for start in chosen_starts:
            i, j = _sparse_group(order[start : start + size], members, degree=degree, seed=seed)
            out_i.append(i)
            out_j.append(j)
    if not out_i:
        return empty, empty.copy()
    i = np.concatenate(out_i)
    j = np.concatenate(out_j)
    swap = members[i] > members[j]
    return np.where(swap, j, i), np.where(swap, i, j)


def nominated_group_pairs(
    groups: IntArray, members: IntArray, a: IntArray, b: IntArray, *, max_group_size: int
) -> tuple[IntArray, IntArray]:
    """Row positions ``(i, j)`` of the memberships of nominated pairs ``(a[k], b[k])`` (account codes) that share
    a group larger than ``max_group_size``, with ``members[i] == a[k]`` and ``members[j] == b[k]``.

    A sparsified group yields only a sample of its pairs, so a pair that another kind of evidence points at (a
    sign-up burst inside a crew's scheduler group) would miss the group's evidence by the luck of the sample.
    Evaluating the group on the nominated pairs costs a join on them, not the group's ``n(n-1)/2`` pairs."""
    empty = np.empty(0, np.int64)
    if len(groups) == 0 or len(a) == 0:
        return empty, empty.copy()
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    rows = np.flatnonzero(counts[inverse] > max_group_size)
    if len(rows) == 0:
        return empty, empty.copy()
    large = pd.DataFrame({"row": rows, "member": members[rows], "group": groups[rows]})
    nominated = pd.DataFrame({"pair": np.arange(len(a), dtype=np.int64), "a": a, "b": b})
    left = nominated.merge(large, left_on="a", right_on="member")[["pair", "group", "row"]]
    right = nominated.merge(large, left_on="b", right_on="member")[["pair", "group", "row"]]
    both = left.merge(right, on=["pair", "group"], suffixes=("_a", "_b"))
    return both["row_a"].to_numpy(np.int64), both["row_b"].to_numpy(np.int64)


def _sparse_group(rows: IntArray, members: IntArray, *, degree: int, seed: int) -> tuple[IntArray, IntArray]:
    """``degree`` rings through the group, each visiting its members in the order of a seeded per-account hash,
    without repeated pairs.  A union of random Hamiltonian cycles is an expander: the group stays connected with
    a logarithmic diameter (so the diameter guard does not cut a big org apart).

    The orders depend on the accounts alone, not on the group, so two groups with (nearly) the same members (one
    crew's client build, request shape and wrapper) are expanded into (nearly) the same pairs, and their kinds add
    up on those pairs as they do on a small group's, instead of each kind landing on its own random sample.  Nor
    can the input's row order change them."""
    accounts = members[rows].astype(np.uint64)
    left: list[IntArray] = []
    right: list[IntArray] = []
    for ring in range(degree):
        salt = splitmix64(np.array([seed * 1_000_003 + ring], dtype=np.uint64))[0]
        order = rows[np.argsort(splitmix64(accounts ^ salt), kind="stable")]
        left.append(order)
        right.append(np.roll(order, -1))
    i, j = np.concatenate(left), np.concatenate(right)
    lo, hi = np.minimum(members[i], members[j]), np.maximum(members[i], members[j])
    _, first = np.unique(lo * (int(members.max()) + 1) + hi, return_index=True)
    first = first[lo[first] != hi[first]]
    return i[first], j[first]


def sum_pairs(a: IntArray, b: IntArray, values: FloatArray, n_accounts: int) -> pd.DataFrame:
    """Sum ``values`` per distinct pair → a pair table (a, b, raw)."""
    if len(a) == 0:
        return empty_pairs()
    key = a * np.int64(n_accounts) + b
    unique_keys, inverse = unique_inverse(key)
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
    share_column: str | None = None,
) -> pd.DataFrame:
    """Pairs of accounts co-occurring in a group, each distinct shared resource counted once with its weight.

    ``memberships`` has int columns ``account``, ``group`` and ``resource``: a group is where co-occurrence is
    observed (an IP within one time window), the resource is what is counted (the IP).  ``resource_weight``
    maps a resource code to its evidence weight (its rarity).  With ``share_column`` (the share of each
    account's traffic on that resource) a shared resource counts ``min(share_a, share_b)`` times its weight, so
    one stray request on a popular template links nobody.
    """
    columns = ["account", "group", "resource"] + ([share_column] if share_column else [])
    distinct = memberships[columns].drop_duplicates(["group", "account"]).reset_index(drop=True)
    members = distinct["account"].to_numpy(np.int64)
    groups = distinct["group"].to_numpy(np.int64)
    i, j = group_pairs(groups, members, max_group_size=max_group_size, degree=degree, seed=seed)
    if len(i) == 0:
        return empty_pairs()
    resources = distinct["resource"].to_numpy(np.int64)
    a, b, resource = members[i], members[j], resources[i]
    share = (
        np.minimum(distinct[share_column].to_numpy(np.float64)[i], distinct[share_column].to_numpy(np.float64)[j])
        if share_column
        else np.ones(len(i))
    )
    if not np.array_equal(groups, resources):
        # one resource seen in several groups (an IP on several days) counts once per pair, at its best share
        a, b, resource, share = _best_per_pair_and_resource(a, b, resource, share, n_accounts)
    weights = resource_weight.reindex(resource).fillna(0.0).to_numpy(np.float64)
    return sum_pairs(a, b, weights * share, n_accounts)


def share_weighted_pairs(
    account: npt.ArrayLike, resource: npt.ArrayLike, share: npt.ArrayLike, weights: pd.Series, *,
    n_accounts: int, config: LinkingConfig, habit_share: float | None = None,
) -> pd.DataFrame:  # fmt: skip
    """:func:`resource_pairs` for attributes used as a share of each account's requests (one group per resource).

    With ``habit_share``, a use on at least that share of an account's requests counts in full (``share /
    habit_share`` below it): how much of an account a harness drives says how busy the harness is, not whether
    two accounts share it, and a reseller's account carries its customers' requests beside the harvest."""
    if habit_share is not None:
        share = np.clip(np.asarray(share, dtype=np.float64) / habit_share, 0.0, 1.0)
    memberships = pd.DataFrame({"account": account, "group": resource, "resource": resource, "share": share})
    return resource_pairs(
        memberships, weights, n_accounts=n_accounts, max_group_size=config.max_group_size,
        degree=config.sparse_degree, seed=config.seed, share_column="share",
    )  # fmt: skip


def steady_uses(
    uses: pd.DataFrame, key: str, weights: pd.Series, *, min_share: float, config: LinkingConfig
) -> pd.DataFrame:
    """The rows of ``uses`` (account, ``key``, share, requests) that make an account's habit: at least
    ``min_share`` of its requests, ``config.min_harness_requests`` of them, on a value with some weight."""
    return uses[
        (uses["share"] >= min_share)
        & (uses["requests"] >= config.min_harness_requests)
        & (uses[key].map(weights).to_numpy() > 0)
    ]


def _best_per_pair_and_resource(
    a: IntArray, b: IntArray, resource: IntArray, share: FloatArray, n_accounts: int
) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    n_resources = int(resource.max()) + 1
    if float(n_accounts) ** 2 * n_resources < 2**62:
        key = (a * np.int64(n_accounts) + b) * np.int64(n_resources) + resource
        order = np.lexsort((-share, key))
        first = np.concatenate([[True], key[order][1:] != key[order][:-1]])
        keep = order[first]
        return a[keep], b[keep], resource[keep], share[keep]
    table = pd.DataFrame({"a": a, "b": b, "resource": resource, "share": share})
    best = table.groupby(["a", "b", "resource"], sort=False, as_index=False).agg(share=("share", "max"))
    return (
        best["a"].to_numpy(np.int64),
        best["b"].to_numpy(np.int64),
        best["resource"].to_numpy(np.int64),
        best["share"].to_numpy(np.float64),
    )


def rarity(n_accounts_using: pd.Series) -> pd.Series:
    """Resource-allocation rarity ``1 / (n - 1)``: each resource hands one unit of evidence to each of its users,
    split among the others, so an IP behind a carrier NAT with 300 users is worth 1/299 per pair, a private one
    shared by two accounts a full unit (Zhou, Lü & Zhang 2009)."""
    n = n_accounts_using.astype("float64")
    return (1.0 / (n - 1.0)).where(n >= 2, 0.0)


def log_rarity(n_accounts_using: pd.Series, n_population: int) -> pd.Series:
    """IDF-style rarity in [0, 1]: ``log(N / n) / log(N)``, the log-likelihood ratio that two accounts share an
    attribute because one actor chose it rather than by chance, normalised.  For attributes that large groups
    legitimately share (prompt templates, client fingerprints): gentler than :func:`rarity`."""
    n = n_accounts_using.astype("float64").clip(lower=1.0)
    population = max(float(n_population), 2.0)
    weights: pd.Series = (np.log(population / n) / np.log(population)).clip(lower=0.0)
    return weights


def surprise_weight(n_accounts_using: pd.Series, expected: pd.Series, n_population: int) -> pd.Series:
    """Evidence weight in [0, 1] of an attribute that ``n`` accounts use where chance predicts ``expected``.

    Two factors.  Is the group beyond chance at all: the surprise of so many users, ``-log10 P(Poisson(expected)
    >= n)`` in decades, over ``log10(N)``, full credit once chance would make such a group less than once in ``N``
    tries (a Bonferroni bound over as many distinct attributes as there are accounts).  And is a given pair of its
    users beyond chance: ``((n - expected) / n) ** 2``, the chance that neither of the two is one of the
    ``expected`` users that chance alone brings, so a stranger who happens on a crew's setting is not one of it.

    Unlike :func:`log_rarity` it does not fall with the group's size: thirty accounts on a combination that chance
    gives to 0.07 accounts are a stronger fingerprint than two, and a combination as common as chance says is no
    evidence however few use it."""
    n = n_accounts_using.astype("float64")
    mean = expected.reindex(n.index).clip(lower=1e-300).to_numpy(np.float64)
    tail = pdtrc(n.to_numpy() - 1.0, mean)
    decades = -np.log10(np.clip(tail, 1e-300, 1.0))
    beyond = np.clip(decades / np.log10(max(float(n_population), 10.0)), 0.0, 1.0)
    both_beyond = np.clip(1.0 - mean / n.clip(lower=1.0).to_numpy(), 0.0, 1.0) ** 2
    return pd.Series(beyond * both_beyond, index=n.index).where(n >= 2, 0.0)
