"""The state's binary-search merge gives exactly what grouping the concatenated tables gives.

Each case merges a batch's table into a canonical one both ways: through :func:`_merge` (which takes the fast path
where it can) and through the plain group-by it replaces, and asserts that the two tables are equal to the last
bit, including dtypes, categories and row order.  The cases reach the paths the merge can take: keys that are new
and keys already present (at the start, in the middle, at the end), a hash key whose leading bits collide, a table
not yet in canonical order, and keys or values it does not handle (it must group then).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.base import TableSpec
from detectors.features import state as state_module
from detectors.features.state import _merge

SPEC = TableSpec(("account_id", "day", "key"), {"n": "sum", "first": "min", "last": "max"})


def grouped(old: pd.DataFrame, new: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """The merge by grouping alone (the reference)."""
    categories = pd.Index(sorted(set(old["account_id"].cat.categories) | set(new["account_id"].cat.categories)),
                          dtype=object)  # fmt: skip
    both = pd.concat([old, new], ignore_index=True)
    both["account_id"] = pd.Categorical(both["account_id"].astype(object), categories=categories)
    return both.groupby(list(spec.keys), sort=True, observed=True).agg(spec.aggs).reset_index()


def table(rng: np.random.Generator, rows: int, accounts: list[str], keys: np.ndarray) -> pd.DataFrame:
    """A batch's table: unique (account, day, key) rows with integer values, in no particular order."""
    frame = pd.DataFrame({
        "account_id": rng.choice(accounts, rows), "day": rng.integers(20_000, 20_004, rows),
        "key": rng.choice(keys, rows), "n": rng.integers(1, 50, rows), "first": rng.integers(0, 10**9, rows),
        "last": rng.integers(0, 10**9, rows),
    })  # fmt: skip
    frame = frame.drop_duplicates(["account_id", "day", "key"]).sample(frac=1.0, random_state=1)
    categories = list(dict.fromkeys(frame["account_id"]))  # first-seen order, as a batch's codes are
    frame["account_id"] = pd.Categorical(frame["account_id"], categories=categories)
    return frame.reset_index(drop=True)[["account_id", "day", "key", "n", "first", "last"]]


def canonical(frame: pd.DataFrame, spec: TableSpec = SPEC) -> pd.DataFrame:
    """A table as the state keeps it (grouped: sorted, one row per key)."""
    empty = frame.iloc[:0].assign(account_id=pd.Categorical([], categories=sorted(frame["account_id"].cat.categories)))
    return grouped(frame, empty, spec)


def assert_merges_exactly(old: pd.DataFrame, new: pd.DataFrame, spec: TableSpec = SPEC) -> None:
    pd.testing.assert_frame_equal(_merge(old, new, spec), grouped(old, new, spec), check_exact=True)


@pytest.mark.parametrize("seed", range(6))
def test_hash_keys_old_and_new_merge_like_the_group_by(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 400, dtype=np.int64)
    accounts = [f"acct-{i:03d}" for i in range(60)]
    old = canonical(table(rng, 3_000, accounts, hashes))
    # new rows on old keys and on new ones, with accounts sorting before, among and after the old ones
    new = table(rng, 600, ["aaa-first", *accounts[::3], "zzz-last"], hashes)
    fast = state_module._merge_sorted(old, new, *_codes(old, new), _categories(old, new), SPEC)
    assert fast is not None, "the case is meant to take the binary-search path"
    assert_merges_exactly(old, new)


def test_small_integer_keys_merge_like_the_group_by() -> None:
    rng = np.random.default_rng(11)
    accounts = [f"a{i}" for i in range(30)]
    old = canonical(table(rng, 1_000, accounts, np.arange(24)))
    new = table(rng, 300, accounts, np.arange(30))
    assert state_module._merge_sorted(old, new, *_codes(old, new), _categories(old, new), SPEC) is not None
    assert_merges_exactly(old, new)


def test_hash_keys_alike_in_their_leading_bits_fall_back_to_grouping() -> None:
    base = 0x1234_5678_0000_0000
    # keys spread over the whole int64 range, so that only their leading bits fit beside the account and the day
    keys = np.array([-base, base, base + 2**20], dtype=np.int64)
    old = canonical(pd.DataFrame({
        "account_id": pd.Categorical(["a", "a", "a"]), "day": [1, 1, 1], "key": keys, "n": [1, 2, 3],
        "first": [5, 6, 7], "last": [7, 8, 9],
    }))  # fmt: skip
    # differs from an old key only in its last bits: the truncated keys are equal, the hashes are not
    new = pd.DataFrame({
        "account_id": pd.Categorical(["a"]), "day": [1], "key": np.array([base + 1], dtype=np.int64), "n": [3],
        "first": [1], "last": [9],
    })  # fmt: skip
    assert state_module._merge_sorted(old, new, *_codes(old, new), _categories(old, new), SPEC) is None
    assert_merges_exactly(old, new)


def test_an_old_table_not_in_canonical_order_falls_back_to_grouping() -> None:
    rng = np.random.default_rng(3)
    accounts = [f"a{i}" for i in range(20)]
    first_batch = table(rng, 400, accounts, np.arange(10))  # a first batch's table, as the state keeps it
    new = table(rng, 100, accounts, np.arange(10))
    assert state_module._merge_sorted(first_batch, new, *_codes(first_batch, new), _categories(first_batch, new),
                                      SPEC) is None  # fmt: skip
    assert_merges_exactly(first_batch, new)


def test_float_values_and_string_keys_are_grouped() -> None:
    old = canonical(pd.DataFrame({
        "account_id": pd.Categorical(["a", "b"]), "day": [1, 1], "model": ["m1", "m2"], "score": [0.1, 0.2],
    }), TableSpec(("account_id", "day", "model"), {"score": "sum"}))  # fmt: skip
    new = pd.DataFrame({"account_id": pd.Categorical(["b"]), "day": [1], "model": ["m2"], "score": [0.7]})
    spec = TableSpec(("account_id", "day", "model"), {"score": "sum"})
    assert state_module._merge_sorted(old, new, *_codes(old, new), _categories(old, new), spec) is None
    assert_merges_exactly(old, new, spec)


def _categories(old: pd.DataFrame, new: pd.DataFrame) -> pd.Index:
    names = sorted(set(old["account_id"].cat.categories) | set(new["account_id"].cat.categories))
    index: pd.Index = pd.Index(names, dtype=object)
    return index


def _codes(old: pd.DataFrame, new: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    categories = _categories(old, new)
    return tuple(  # type: ignore[return-value]
        categories.get_indexer(f["account_id"].cat.categories.astype(object))[f["account_id"].cat.codes]
        for f in (old, new)
    )
