"""Shared infrastructure: IPs and subnets seen together in a time window, payment cards, rare client fingerprints.

Rarity does the work that allow-lists would otherwise do: a carrier-grade NAT, a corporate egress or a cloud NAT
is shared by so many accounts that each of its pairs gets almost nothing (:func:`.pairs.rarity`), while a pool of
proxy IPs that only one operator's accounts rotate through hands each pair a unit per shared IP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.arrays import sorted_unique
from detectors.linking.config import LinkingConfig
from detectors.linking.encoding import subnet_table
from detectors.linking.inputs import LinkingInput, codes_of
from detectors.linking.pairs import empty_pairs, log_rarity, rarity, resource_pairs


def subnet_codes(data: LinkingInput, config: LinkingConfig) -> np.ndarray:
    """The /24 (IPv4) or /48 (IPv6) of each event's address as a code (-1: none), from each distinct address's
    subnet (:mod:`.encoding`)."""
    addresses = pd.Index(data.ips.astype(str), dtype=object)
    subnets = subnet_table(pd.Series(addresses, dtype=object), config, known=data.event_codes(config).subnets)
    nets = subnets.reindex(addresses)
    net_codes, _ = codes_of(pd.Series(nets.to_numpy(), dtype="string"))
    ip_code = data.events["ip_code"].to_numpy()
    return np.where(ip_code >= 0, net_codes[np.maximum(ip_code, 0)] if len(net_codes) else -1, -1)


def _windowed_pairs(
    data: LinkingInput, resource: np.ndarray, config: LinkingConfig, *, decay: tuple[tuple[float, float], ...] = ()
) -> pd.DataFrame:
    """Pairs that used one address (or subnet) within the same time window, summed over distinct addresses.

    ``decay`` adds longer windows ``(hours, weight)``: an address both used further apart still counts, for
    less, as addresses are reassigned (a home IP next week may be a stranger's).  A pair keeps its best score.
    """
    present = resource >= 0
    if not present.any():
        return empty_pairs()
    accounts, ts = data.events["account"].to_numpy(np.int64)[present], data.events["ts"].to_numpy(np.int64)[present]
    used = resource[present].astype(np.int64)
    n = np.int64(max(data.n_accounts, 1))
    users = sorted_unique(used * n + accounts) // n  # the resource of each distinct (resource, account)
    present_resources, counts = np.unique(users, return_counts=True)
    weights = rarity(pd.Series(counts, index=present_resources))
    scored: list[pd.DataFrame] = []
    for hours, weight in ((config.ip_window_hours, 1.0), *decay):
        bucket = ts // max(int(hours * 3600), 1)
        low = int(bucket.min())
        span = np.int64(int(bucket.max()) - low + 1)
        # one int64 key per (resource, bucket), numbered in order of appearance as a MultiIndex would be, and one
        # per membership (resource, bucket, account), deduplicated in order of appearance: without building a
        # million tuples or grouping three columns
        memberships = _distinct_memberships(used * span + (bucket - low), accounts, n)
        memberships["resource"] = memberships["group"] // span
        memberships["group"] = pd.factorize(memberships["group"].to_numpy())[0]
        scored.append(
            resource_pairs(
                memberships, weights * weight, n_accounts=data.n_accounts, max_group_size=config.max_group_size,
                degree=config.sparse_degree, seed=config.seed,
            )
        )  # fmt: skip
    if len(scored) == 1:
        return scored[0]
    return _best_per_pair(scored, n)


def _distinct_memberships(groups: np.ndarray, accounts: np.ndarray, n_accounts: np.int64) -> pd.DataFrame:
    """The distinct (group, account) rows in order of first appearance: columns ``account`` and ``group``."""
    if int(groups.max(initial=0)) < np.iinfo(np.int64).max // n_accounts - 1:
        distinct = pd.unique(groups * n_accounts + accounts)
        return pd.DataFrame({"account": distinct % n_accounts, "group": distinct // n_accounts})
    return pd.DataFrame({"account": accounts, "group": groups}).drop_duplicates().reset_index(drop=True)


def _best_per_pair(tables: list[pd.DataFrame], n_accounts: np.int64) -> pd.DataFrame:
    """One row per pair of the ``tables`` with the largest ``raw``, sorted by pair."""
    keys = np.concatenate([t["a"].to_numpy(np.int64) * n_accounts + t["b"].to_numpy(np.int64) for t in tables])
    raw = np.concatenate([t["raw"].to_numpy(np.float64) for t in tables])
    if len(keys) == 0:
        return empty_pairs()
    order = np.argsort(keys, kind="stable")
    keys, raw = keys[order], raw[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    distinct = keys[starts]
    best = np.maximum.reduceat(raw, starts)
    return pd.DataFrame({"a": distinct // n_accounts, "b": distinct % n_accounts, "raw": best})


def ip_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    return _windowed_pairs(data, data.events["ip_code"].to_numpy(), config, decay=config.ip_reuse_decay)


def subnet_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    return _windowed_pairs(data, subnet_codes(data, config), config)


def _attribute_pairs(
    accounts: np.ndarray,
    resource: np.ndarray,
    weight_of_users: pd.Series | None,
    data: LinkingInput,
    config: LinkingConfig,
) -> pd.DataFrame:
    """Pairs of accounts sharing an attribute; ``resource``: each row's attribute as a code (-1: none)."""
    present = resource >= 0
    memberships = pd.DataFrame({"account": accounts[present], "resource": resource[present]}).drop_duplicates()
    users = memberships.groupby("resource")["account"].size()
    weights = weight_of_users if weight_of_users is not None else pd.Series(1.0, index=users.index)
    memberships = memberships[memberships["resource"].map(weights).fillna(0.0).to_numpy() > 0]
    if memberships.empty:
        return empty_pairs()
    memberships["group"] = memberships["resource"]
    return resource_pairs(
        memberships,
        weights,
        n_accounts=data.n_accounts,
        max_group_size=config.max_group_size,
        degree=config.sparse_degree,
        seed=config.seed,
    )


def payment_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """One unit per shared card whatever its number of users: strangers do not share a card, members of one org
    do, and :mod:`.clusters` reports that as ``same_org_share`` rather than pretending it is not common control."""
    cards, _ = codes_of(data.accounts["payment_fingerprint"].astype("string"))
    return _attribute_pairs(np.arange(data.n_accounts, dtype=np.int64), cards, None, data, config)


def client_codes(data: LinkingInput) -> np.ndarray:
    """Each event's client, its (TLS fingerprint, user agent) combination, as a code (-1: either one missing),
    numbered in order of first appearance; shared by the client kind and the cluster features."""
    return data.shared("client_codes", lambda: _client_codes(data.events))


def _client_codes(events: pd.DataFrame) -> np.ndarray:
    # the pair of the two columns' codes instead of their joined text: a million string joins cost ~0.3 s
    tls, _ = codes_of(events["tls_fingerprint"])
    agent, agents = codes_of(events["user_agent"])
    both = (tls >= 0) & (agent >= 0)
    codes = np.full(len(events), -1, dtype=np.int64)
    codes[both] = pd.factorize(tls[both] * max(len(agents), 1) + agent[both])[0]
    return codes


def client_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """Same TLS fingerprint + user agent, weighted by how rare the combination is across accounts."""
    accounts = data.events["account"].to_numpy(np.int64)
    resource = client_codes(data)
    present = resource >= 0
    users = (
        pd.DataFrame({"account": accounts[present], "resource": resource[present]})
        .drop_duplicates()
        .groupby("resource")["account"]
        .size()
    )
    population = int(pd.unique(accounts[present]).size)
    # A combination shared by more than popular_size accounts is a stock client, not a fingerprint.
    weights = log_rarity(users, population).where(users <= config.popular_size(population), 0.0)
    return _attribute_pairs(accounts, resource, weights, data, config)
