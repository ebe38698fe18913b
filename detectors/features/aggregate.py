"""Small vectorised helpers shared by the feature families."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.base import DAY_NS

__all__ = ["DAY_NS", "HOUR_NS", "MINUTE_NS"]
HOUR_NS = 3_600 * 10**9
MINUTE_NS = 60 * 10**9


def column(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """A numeric event column as float64 with NaN for null (or all NaN if the column is absent)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[name]
    if values.dtype == "boolean" or values.dtype == bool:
        values = values.astype("Float64")
    return np.asarray(values.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)


def ratio(numerator: Any, denominator: Any) -> pd.Series:
    """numerator / denominator with NaN wherever the denominator is 0 or missing."""
    num = pd.Series(numerator, dtype="float64")
    den = pd.Series(denominator, dtype="float64")
    return (num / den.where(den > 0)).astype("float64")


def sum_by_account(table: pd.DataFrame, columns: list[str], n_accounts: int) -> pd.DataFrame:
    """Column sums per account position (0 for accounts without rows)."""
    positions = pd.RangeIndex(n_accounts)
    if table.empty:
        return pd.DataFrame(0, index=positions, columns=columns, dtype="float64")
    return table.groupby("account", sort=True)[columns].sum().reindex(positions, fill_value=0)


def count_by_account(table: pd.DataFrame, n_accounts: int) -> pd.Series:
    """Rows per account position (0 for accounts without rows)."""
    counts = np.bincount(table["account"].to_numpy(dtype=np.int64), minlength=n_accounts) if len(table) else (
        np.zeros(n_accounts, dtype=np.int64))
    return pd.Series(counts.astype(np.float64))


def normalised_entropy(counts: npt.NDArray[np.float64], n_bins: int) -> npt.NDArray[np.float64]:
    """Shannon entropy of each row of counts divided by log(n_bins): 0 = one bin, 1 = uniform."""
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / np.where(totals > 0, totals, 1.0)
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = terms.sum(axis=1) / np.log(n_bins) if n_bins > 1 else np.zeros(len(counts))
    return np.where(totals[:, 0] > 0, entropy, np.nan)


def entropy_of_groups(table: pd.DataFrame, count_column: str, n_accounts: int) -> pd.Series:
    """Shannon entropy (bits) of the count distribution over each account's rows (NaN without rows)."""
    if table.empty:
        return pd.Series(np.nan, index=pd.RangeIndex(n_accounts))
    totals = table.groupby("account", sort=True)[count_column].transform("sum")
    p = table[count_column].to_numpy(dtype="float64") / totals.to_numpy(dtype="float64")
    terms = pd.Series(0.0 - p * np.log2(np.where(p > 0, p, 1.0)), index=table.index)
    return terms.groupby(table["account"].to_numpy(), sort=True).sum().reindex(pd.RangeIndex(n_accounts))


def per_account(series: pd.Series, n_accounts: int) -> pd.Series:
    """A result indexed by account position, reindexed to all positions (NaN where absent)."""
    return series.reindex(pd.RangeIndex(n_accounts)).astype("float64")


def computed_rows(account: npt.NDArray[np.int64], skip: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64] | None:
    """Positions of the rows whose account position is not in ``skip`` (None when nothing is skipped): the rows an
    own feature reads when an earlier value stands for the skipped accounts (:class:`detectors.base.Kept`)."""
    return None if skip is None else np.flatnonzero(~skip[account])


def repeat_share(
    table: pd.DataFrame | None, key: str, n_accounts: int, *, skip: npt.NDArray[np.bool_] | None = None
) -> pd.Series:
    """1 - distinct keys / items per account position: the share of items repeating an earlier item's key (NaN
    without items).  ``table``: rows of ``account``, ``key`` and ``n`` (items), several rows of one key allowed.

    For MinHash band keys (one row per prompt and band, band index mixed into the key)
    this is the mean over bands, i.e. ≈ the share of prompts with a near-duplicate.

    ``skip``: account positions left NaN, their rows not read (each account's share depends on its rows alone).
    """
    if table is None or table.empty:
        return pd.Series(np.nan, index=pd.RangeIndex(n_accounts))
    rows = computed_rows(table["account"].to_numpy(np.int64), skip)
    if rows is not None:
        table = table[["account", key, "n"]].take(rows)
    # distinct keys and items per account by counting, not grouping the table by both columns and then by account
    distinct = table[["account", key]].drop_duplicates()["account"].to_numpy(np.int64)
    keys = np.bincount(distinct, minlength=n_accounts)
    items = np.bincount(table["account"].to_numpy(np.int64), weights=table["n"].to_numpy(np.float64),
                        minlength=n_accounts)  # fmt: skip
    return 1.0 - ratio(keys, items)
