"""The linking speed-ups change no output: each fast path against the plain pandas or numpy it replaced, on
seeded random inputs built to hit the edge cases (repeats, ties, one row, none)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.arrays import first_occurrences, order_by, sorted_unique, unique_first_inverse, unique_inverse
from detectors.linking.identity import cluster_id_for
from detectors.linking.infrastructure import _best_per_pair, _distinct_memberships
from detectors.linking.linker import _labels


@pytest.mark.parametrize("size", [0, 1, 2, 17, 5_000])
@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.float64, np.int32])
def test_sorted_unique_is_np_unique(size: int, dtype: type) -> None:
    rng = np.random.default_rng(size)
    values = rng.integers(0, max(size // 3, 1), size).astype(dtype)
    got = sorted_unique(values)
    expected = np.unique(values)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_sorted_unique_leaves_its_input_alone() -> None:
    values = np.array([3, 1, 3, 2], dtype=np.int64)
    sorted_unique(values)
    np.testing.assert_array_equal(values, [3, 1, 3, 2])


@pytest.mark.parametrize("size", [0, 1, 2, 17, 5_000])
@pytest.mark.parametrize("runs", [1, 3])
def test_unique_inverse_is_np_unique(size: int, runs: int) -> None:
    # in no order (runs=1) and as concatenated sorted stretches, as the kinds' pair tables arrive
    rng = np.random.default_rng(size + runs)
    parts = [np.sort(rng.integers(0, max(size // 3, 1), size // runs)) for _ in range(runs)]
    values = np.concatenate(parts) if runs > 1 else rng.integers(0, max(size // 3, 1), size)
    got, inverse = unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(inverse, expected_inverse)
    np.testing.assert_array_equal(got[inverse], values)


@pytest.mark.parametrize("seed", range(4))
def test_distinct_memberships_keep_the_first_of_each_in_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    groups = rng.integers(0, 30, 2_000).astype(np.int64)
    accounts = rng.integers(0, n, 2_000).astype(np.int64)
    got = _distinct_memberships(groups, accounts, np.int64(n))
    expected = pd.DataFrame({"account": accounts, "group": groups}).drop_duplicates().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_distinct_memberships_of_keys_too_wide_for_one_int64_fall_back_to_grouping() -> None:
    groups = np.array([2**62, 5, 2**62, 5], dtype=np.int64)
    accounts = np.array([1, 1, 1, 2], dtype=np.int64)
    got = _distinct_memberships(groups, accounts, np.int64(3))
    pd.testing.assert_frame_equal(got, pd.DataFrame({"account": [1, 1, 2], "group": [2**62, 5, 5]}))


@pytest.mark.parametrize("seed", range(4))
def test_best_per_pair_is_the_grouped_maximum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 25

    def table(rows: int) -> pd.DataFrame:
        a = rng.integers(0, n, rows)
        b = rng.integers(0, n, rows)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        frame = pd.DataFrame({"a": lo, "b": hi, "raw": rng.choice([0.25, 0.5, 1.0, rng.random()], rows)})
        return frame.drop_duplicates(["a", "b"]).reset_index(drop=True)

    tables = [table(200), table(150), table(0), table(1)]
    got = _best_per_pair(tables, np.int64(n))
    expected = pd.concat(tables).groupby(["a", "b"], as_index=False, sort=True).agg(raw=("raw", "max"))
    pd.testing.assert_frame_equal(got, expected)


def test_labels_name_each_community_by_its_members_alone() -> None:
    rng = np.random.default_rng(3)
    accounts = pd.Index([f"acct-{i:03d}" for i in range(300)])
    communities = rng.integers(0, 120, len(accounts))  # singletons and groups alike
    got = _labels(accounts, communities)
    for community in np.unique(communities):
        members = np.flatnonzero(communities == community)
        expected = cluster_id_for(accounts[members].astype(str))
        assert set(got.iloc[members]) == {expected}
    assert got.dtype == "string"


@pytest.mark.parametrize("size", [0, 1, 7, 3_000])
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_unique_first_inverse_is_np_unique_with_index_and_inverse(size: int, dtype: type) -> None:
    values = np.random.default_rng(size).integers(0, max(size // 4, 1), size).astype(dtype)
    for got, expected in zip(unique_first_inverse(values), np.unique(values, return_index=True, return_inverse=True),
                             strict=True):  # fmt: skip
        np.testing.assert_array_equal(got, expected)


def test_first_occurrences_of_codes_in_order_of_appearance() -> None:
    values = np.array(["b", "a", "b", "c", "a", "c", "d"], dtype=object)
    codes, _ = pd.factorize(values)
    np.testing.assert_array_equal(first_occurrences(codes), [0, 1, 3, 6])
    assert len(first_occurrences(np.empty(0, np.int64))) == 0


@pytest.mark.parametrize("wide", [False, True])
def test_order_by_sorts_rows_as_lexsort_does(wide: bool) -> None:
    rng = np.random.default_rng(11)
    major = rng.integers(0, 50, 4_000).astype(np.int64)
    minor = rng.integers(0, 2**62 if wide else 1_000, 4_000).astype(np.int64)  # wide: no room for one key
    order = order_by(major, minor)
    expected = np.lexsort((minor, major))
    np.testing.assert_array_equal(major[order], major[expected])
    np.testing.assert_array_equal(minor[order], minor[expected])
    assert sorted(order.tolist()) == list(range(4_000))


@pytest.mark.parametrize("min_size", [2, 3])
def test_describing_only_multi_account_clusters_describes_them_as_describing_all_does(min_size: int) -> None:
    from app.simulation import SimulationConfig, simulate
    from detectors.events import account_frame, to_event_frame
    from detectors.linking import link_accounts

    population = simulate(SimulationConfig(seed=5, scale=0.15, days=3))
    events, accounts = to_event_frame(population.events), account_frame(population.accounts)
    rng = np.random.default_rng(5)
    topics = pd.Series(rng.integers(-1, 12, len(events)), index=events.index)
    risk = pd.Series(rng.random(len(accounts)), index=accounts.index)
    every = link_accounts(events, accounts, topics=topics, account_risk=risk)
    some = link_accounts(events, accounts, topics=topics, account_risk=risk, min_described_size=min_size)
    described = every.cluster_features.index[every.cluster_features["size"] >= min_size]
    assert len(described) >= 3 and len(described) < len(every.cluster_features)
    pd.testing.assert_frame_equal(some.cluster_features, every.cluster_features.loc[described], check_exact=True)
    assert some.evidence == {label: every.evidence[label] for label in described}
    pd.testing.assert_frame_equal(some.edges, every.edges, check_exact=True)
    pd.testing.assert_frame_equal(some.clusters, every.clusters)
    for stat in ("clusters", "multi_account_clusters", "edges"):
        assert some.stats[stat] == every.stats[stat]
