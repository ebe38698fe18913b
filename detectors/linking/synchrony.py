"""Acting together: synchronized activity (SynchroTrap / CopyCatch style) and a shared move to a new model.

Synchrony compares accounts' sets of active minutes.  For each candidate pair we count the minutes where one is
active and the other is active within a minute of it (tolerating jitter), and compare that with what two
independent accounts with the same amount of activity would share given the population's own rhythm, smoothed
over an hour: the null keeps office hours and time zones, while a job runner's ticks stand out against it.  Only
the excess over that expectation counts, so two office workers in one timezone, or two 24/7 batch jobs, are not
"synchronized".  Time alone happens between strangers (two cron jobs at :00), so synchrony is a weak kind scored
only on pairs that other evidence already brought together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import poisson

from detectors.arrays import order_by
from detectors.linking.bursts import burst_pairs, find_bursts
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.pairs import empty_pairs

# An account active in more than this share of the window is "always on": overlap with it is expected.
MAX_ACTIVE_FRACTION = 0.5
# Excess overlap of 1.0 (perfect lockstep) is worth this much raw evidence.
LOCKSTEP_RAW = 2.0
# The population rhythm that defines "chance" is the activity load smoothed over this many minutes.
RHYTHM_MINUTES = 60
# Bound the work per pair: at most this many of an account's active buckets are compared.
MAX_BUCKETS_COMPARED = 150


def active_buckets(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """Distinct (account, bucket) activity, buckets counted from the first event."""
    width = max(int(config.sync_bucket_minutes * 60), 1)
    return data.shared(("active_buckets", width), lambda: _active_buckets(data, width))


def _active_buckets(data: LinkingInput, width: int) -> pd.DataFrame:
    ts = data.events["ts"].to_numpy()
    if len(ts) == 0:
        return pd.DataFrame({"account": np.empty(0, np.int64), "bucket": np.empty(0, np.int64)})
    buckets = (ts - ts.min()) // width
    return pd.DataFrame({"account": data.events["account"].to_numpy(), "bucket": buckets}).drop_duplicates()


def bucket_chance(activity: pd.DataFrame, n_buckets: int, bucket_minutes: float) -> np.ndarray:
    """Per bucket: the probability that one unit of an account's activity lands within one bucket of it."""
    load = np.bincount(activity["bucket"].to_numpy(), minlength=n_buckets).astype(np.float64)
    span = max(int(RHYTHM_MINUTES / max(bucket_minutes, 1e-9)), 1)
    kernel = np.ones(2 * span + 1) / (2 * span + 1)
    rhythm = np.convolve(load, kernel, mode="same")
    chance: np.ndarray = 3.0 * rhythm / max(float(rhythm.sum()), 1e-12)
    return chance


@dataclass(frozen=True, slots=True)
class _Sorted:
    """Active buckets sorted by (account, bucket): account ``x``'s are ``bucket[first[x] : first[x] + size[x]]``."""

    bucket: npt.NDArray[np.int64]
    key: npt.NDArray[np.int64]  # account * stride + bucket, ascending
    size: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]
    stride: np.int64

    @classmethod
    def of(cls, activity: pd.DataFrame, n_accounts: int, n_buckets: int) -> _Sorted:
        accounts = activity["account"].to_numpy(np.int64)
        buckets = activity["bucket"].to_numpy(np.int64)
        order = order_by(accounts, buckets)  # distinct (account, bucket) rows
        size = np.bincount(accounts, minlength=n_accounts).astype(np.int64)
        stride = np.int64(n_buckets + 2)
        return cls(buckets[order], accounts[order] * stride + buckets[order], size, np.cumsum(size) - size, stride)


def _covered(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], active: _Sorted, chance: np.ndarray) -> pd.DataFrame:
    """Per pair, one direction: buckets of ``a`` with ``b`` active within one bucket, and the number expected."""
    # the pairs in order of partner, so that the lookups of one partner's buckets fall in one stretch of the sorted
    # keys (a third of the time of looking up a million scattered keys); each pair's sums are taken in the same order
    by_partner = np.argsort(b, kind="stable")
    hit, expected = np.empty(len(a)), np.empty(len(a))
    hit[by_partner], expected[by_partner] = _covered_in_order(a[by_partner], b[by_partner], active, chance)
    return pd.DataFrame({"hit": hit, "expected": expected})


def _covered_in_order(
    a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], active: _Sorted, chance: np.ndarray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    size_a = active.size[a]
    counts_a = np.minimum(size_a, MAX_BUCKETS_COMPARED)
    rows = np.repeat(np.arange(len(a)), counts_a)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts_a) - counts_a, counts_a)
    # evenly spaced subset when an account has more buckets than we compare
    stride = np.repeat(np.maximum(size_a / np.maximum(counts_a, 1), 1.0), counts_a)
    picked = np.repeat(active.first[a], counts_a) + (within * stride).astype(np.int64)
    buckets = active.bucket[picked]
    partner = b[rows]
    # ``b`` is active within one bucket when its first active key at or after bucket - 1 is at most bucket + 1 (keys
    # are account * stride + bucket with stride > n_buckets + 1, so no other account's key falls in between)
    present = active.key
    low = partner * active.stride + buckets - 1
    position = np.searchsorted(present, low)
    hit = (position < len(present)) & (present[np.minimum(position, len(present) - 1)] <= low + 2)
    expected = np.minimum(1.0, active.size[partner] * chance[buckets])
    hits = np.bincount(rows, weights=hit, minlength=len(a)).astype(np.float64, copy=False)
    expectations = np.bincount(rows, weights=expected, minlength=len(a)).astype(np.float64, copy=False)
    return hits, expectations


def sync_pairs(data: LinkingInput, candidates: pd.DataFrame, config: LinkingConfig) -> pd.DataFrame:
    activity = active_buckets(data, config)
    if activity.empty or candidates.empty:
        return empty_pairs()
    n_buckets = int(activity["bucket"].max()) + 1
    sizes = activity.groupby("account").size()
    informative = sizes[(sizes >= config.sync_min_active_buckets) & (sizes <= MAX_ACTIVE_FRACTION * n_buckets)]
    pairs = candidates.loc[candidates["a"].isin(informative.index) & candidates["b"].isin(informative.index)]
    pairs = pairs[["a", "b"]].drop_duplicates().reset_index(drop=True)
    if pairs.empty:
        return empty_pairs()
    chance = bucket_chance(activity, n_buckets, config.sync_bucket_minutes)
    activity = activity[activity["account"].isin(informative.index)]
    active = _Sorted.of(activity, data.n_accounts, n_buckets)
    a, b = pairs["a"].to_numpy(np.int64), pairs["b"].to_numpy(np.int64)
    forward, backward = _covered(a, b, active, chance), _covered(b, a, active, chance)
    hits = forward["hit"].to_numpy(np.float64) + backward["hit"].to_numpy(np.float64)
    expected = forward["expected"].to_numpy() + backward["expected"].to_numpy()
    compared = np.minimum(sizes.reindex(pairs["a"]).to_numpy(), MAX_BUCKETS_COMPARED) + np.minimum(
        sizes.reindex(pairs["b"]).to_numpy(), MAX_BUCKETS_COMPARED
    )
    excess = np.clip((hits - expected) / np.maximum(compared - expected, 1.0), 0.0, 1.0)
    log10_p = poisson.logsf(hits - 1, np.maximum(expected, 1e-9)) / np.log(10.0)
    significant = log10_p + np.log10(len(pairs)) < 0
    raw = np.where(significant, LOCKSTEP_RAW * excess, 0.0)
    out = pd.DataFrame({"a": pairs["a"].to_numpy(), "b": pairs["b"].to_numpy(), "raw": raw})
    return out[out["raw"] > 0].reset_index(drop=True)


def model_switches(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """Accounts that moved most of their traffic to a model first seen inside the window: account, model, ts."""
    share = config.migration_min_share_after
    return data.shared(("model_switches", share), lambda: _model_switches(data, share))


def model_releases(data: LinkingInput) -> pd.Series:
    """model → the first time anyone in the window used it (epoch seconds), computed once per input."""

    def first_use() -> pd.Series:
        used = data.events[["model", "ts"]]
        release: pd.Series = used[used["model"].notna()].groupby("model")["ts"].min()
        return release

    return data.shared("model_releases", first_use)


def _model_switches(data: LinkingInput, min_share_after: float) -> pd.DataFrame:
    columns = ["account", "model", "ts"]
    # the three columns read, not the whole event frame: selecting rows of all its columns cost ~0.2 s
    frame = data.events[columns]
    events = frame[frame["model"].notna()]
    if events.empty:
        return pd.DataFrame(columns=columns)
    start, end = int(data.events["ts"].min()), int(data.events["ts"].max())
    release = model_releases(data)
    # a model already in use in the first tenth of the window is not "new" to anybody
    new_models = release[release > start + 0.1 * (end - start)]
    if new_models.empty:
        return pd.DataFrame(columns=columns)
    first_seen = data.events.groupby("account")["ts"].min()
    rows: list[pd.DataFrame] = []
    for model, released in new_models.items():
        on_model = events[events["model"] == model]
        switch = on_model.groupby("account")["ts"].min()
        switch = switch[first_seen.reindex(switch.index).to_numpy() < released]
        if switch.empty:
            continue
        after = frame[frame["account"].isin(switch.index)]
        after = after[after["ts"].to_numpy() >= switch.reindex(after["account"]).to_numpy()]
        share = (after["model"] == model).groupby(after["account"]).mean()
        moved = switch[share.reindex(switch.index).fillna(0.0).to_numpy() >= min_share_after]
        rows.append(pd.DataFrame({"account": moved.index.to_numpy(), "model": model, "ts": moved.to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def migration_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    switches = model_switches(data, config)
    if switches.empty:
        return empty_pairs()
    keys, models = pd.factorize(switches["model"])
    released = model_releases(data)
    span = pd.Series(float(data.events["ts"].max()) - released.reindex(models).to_numpy(np.float64))
    burst_of_row, bursts = find_bursts(
        switches["ts"].to_numpy(np.float64), keys.astype(np.int64),
        window=config.migration_window_hours * 3600, span=span, min_size=3,
    )  # fmt: skip
    return burst_pairs(
        switches["account"].to_numpy(np.int64), burst_of_row, bursts, n_accounts=data.n_accounts,
        max_group_size=config.max_group_size, degree=config.sparse_degree, seed=config.seed,
    )  # fmt: skip
