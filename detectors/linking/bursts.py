"""Bursts: many accounts doing one thing (signing up through one channel, moving to one model) at once.

A burst is a run of times, within one key, whose gaps are shorter than both the configured window and half the
key's mean gap, so a steady stream of sign-ups from a popular mail provider does not chain into one long
"burst".  Its evidence is how unlikely that many events in that little time are for the key's own base rate
(Poisson over at least one whole window, a scan statistic), corrected for the number of bursts tested
(Bonferroni): ``-log10(p * n_tests)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import poisson

from detectors.linking.pairs import empty_pairs, resource_pairs

# One decade of improbability beyond chance (after the multiple-testing correction) is worth this much raw
# evidence: p * n_tests = 1e-4 → 1.0.
DECADES_PER_UNIT = 4.0


def find_bursts(
    times: npt.NDArray[np.float64],
    keys: npt.NDArray[np.int64],
    *,
    window: float,
    span: float | pd.Series,
    min_size: int,
) -> tuple[npt.NDArray[np.int64], pd.DataFrame]:
    """Burst id of each (time, key) row (-1 outside bursts) and a table of the bursts with their ``raw`` evidence.

    ``span`` is how long the keys could occur (one length for all, or a Series by key), the base over which each
    key's rate is measured.
    """
    n = len(times)
    burst_of_row = np.full(n, -1, dtype=np.int64)
    columns = ["key", "size", "start", "end", "log10_p", "raw"]
    if n == 0:
        return burst_of_row, pd.DataFrame(columns=columns)
    order = np.lexsort((times, keys))
    t = times[order]
    k = keys[order]
    key_counts = pd.Series(k).value_counts()
    spans = span.reindex(key_counts.index) if isinstance(span, pd.Series) else pd.Series(span, index=key_counts.index)
    spans = spans.astype(np.float64).clip(lower=1.0)
    rate = key_counts / spans
    mean_gap = spans / key_counts
    threshold = np.minimum(window, mean_gap.reindex(k).to_numpy() / 2.0)
    gaps = np.diff(t, prepend=-np.inf)
    new_run = (gaps > threshold) | np.concatenate([[True], k[1:] != k[:-1]])
    run_id = np.cumsum(new_run) - 1
    runs = pd.DataFrame({"run": run_id, "t": t, "key": k, "threshold": threshold})
    table = runs.groupby("run").agg(key=("key", "first"), size=("t", "size"), start=("t", "min"),
                                    end=("t", "max"), threshold=("threshold", "first"))  # fmt: skip
    table = table[table["size"] >= min_size]
    if table.empty:
        return burst_of_row, pd.DataFrame(columns=columns)
    # The run was picked for being dense, so its own duration would flatter it: judge it over at least a whole
    # window (a scan statistic), and correct for the number of runs tested.
    length = np.maximum((table["end"] - table["start"] + table["threshold"]).to_numpy(), window)
    expected = rate.reindex(table["key"]).to_numpy() * length
    log10_p = poisson.logsf(table["size"].to_numpy() - 1, expected) / np.log(10.0)
    table = table.assign(log10_p=log10_p)
    table["raw"] = np.clip(-(table["log10_p"] + np.log10(len(table))), 0.0, None) / DECADES_PER_UNIT
    significant = table[table["raw"] > 0]
    run_to_burst = pd.Series(np.arange(len(significant)), index=significant.index)
    burst_sorted = run_to_burst.reindex(run_id).fillna(-1).to_numpy(np.int64)
    burst_of_row[order] = burst_sorted
    return burst_of_row, significant.reset_index(drop=True)[columns]


def burst_pairs(
    accounts: npt.NDArray[np.int64],
    burst_of_row: npt.NDArray[np.int64],
    bursts: pd.DataFrame,
    *,
    n_accounts: int,
    max_group_size: int,
    degree: int,
    seed: int,
) -> pd.DataFrame:
    inside = burst_of_row >= 0
    if not inside.any():
        return empty_pairs()
    memberships = pd.DataFrame({"account": accounts[inside], "group": burst_of_row[inside]})
    memberships["resource"] = memberships["group"]
    return resource_pairs(
        memberships,
        bursts["raw"],
        n_accounts=n_accounts,
        max_group_size=max_group_size,
        degree=degree,
        seed=seed,
    )
