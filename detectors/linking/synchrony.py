"""Acting together: synchronized activity (SynchroTrap / CopyCatch style) and a shared move to a new model.

Synchrony compares accounts' sets of active time buckets.  Candidates come from MinHash LSH over those sets (no
all-pairs scan); for each candidate pair we count the buckets where one is active and the other is active in the
same or an adjacent bucket (tolerating jitter), and compare that with what two independent accounts with the same
activity would share given the population's own daily rhythm.  Only the excess over that expectation counts, so
two office workers in one timezone, or two 24/7 batch jobs, are not "synchronized".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from detectors.linking.bursts import burst_pairs, find_bursts
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.minhash import band_keys, signatures
from detectors.linking.pairs import empty_pairs, group_pairs

# Buckets where an account counts as "always on": its overlap with anyone is expected, not evidence.
MAX_ACTIVE_FRACTION = 0.5
# Excess overlap of 1.0 (perfect lockstep) is worth this much raw evidence.
LOCKSTEP_RAW = 2.0


def active_buckets(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """Distinct (account, bucket) activity, buckets counted from the first event."""
    width = max(int(config.sync_bucket_minutes * 60), 1)
    ts = data.events["ts"].to_numpy()
    if len(ts) == 0:
        return pd.DataFrame({"account": np.empty(0, np.int64), "bucket": np.empty(0, np.int64)})
    buckets = (ts - ts.min()) // width
    return pd.DataFrame({"account": data.events["account"].to_numpy(), "bucket": buckets}).drop_duplicates()


def _candidates(activity: pd.DataFrame, config: LinkingConfig) -> pd.DataFrame:
    accounts, docs = np.unique(activity["account"].to_numpy(), return_inverse=True)
    n_perm = config.sync_lsh_bands * config.sync_lsh_rows
    signature = signatures(
        activity["bucket"].to_numpy().astype(np.uint64), docs.astype(np.int64), len(accounts),
        n_perm=n_perm, seed=config.seed,
    )  # fmt: skip
    keys = band_keys(signature, config.sync_lsh_bands)
    groups, _ = pd.factorize(keys.ravel())
    members = np.repeat(accounts, config.sync_lsh_bands).astype(np.int64)
    i, j = group_pairs(
        groups.astype(np.int64), members, max_group_size=config.max_group_size,
        degree=config.sparse_degree, seed=config.seed,
    )  # fmt: skip
    pairs = pd.DataFrame({"a": members[i], "b": members[j]})
    return pairs[pairs["a"] != pairs["b"]].drop_duplicates().reset_index(drop=True)


def _covered(pairs: pd.DataFrame, activity: pd.DataFrame, profile: np.ndarray, n_buckets: int) -> pd.DataFrame:
    """Per pair and direction: buckets of ``a`` with ``b`` active within one bucket, and the count expected."""
    by_account = activity.sort_values(["account", "bucket"])
    starts = by_account.groupby("account").size()
    first = starts.cumsum() - starts
    counts_a = starts.reindex(pairs["a"]).to_numpy()
    rows = np.repeat(np.arange(len(pairs)), counts_a)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts_a) - counts_a, counts_a)
    buckets = by_account["bucket"].to_numpy()[np.repeat(first.reindex(pairs["a"]).to_numpy(), counts_a) + within]
    partner = pairs["b"].to_numpy()[rows]
    present = np.sort(by_account["account"].to_numpy() * np.int64(n_buckets + 2) + by_account["bucket"].to_numpy())
    hit = np.zeros(len(rows), dtype=bool)
    for shift in (-1, 0, 1):
        keys = partner * np.int64(n_buckets + 2) + buckets + shift
        position = np.clip(np.searchsorted(present, keys), 0, len(present) - 1)
        hit |= present[position] == keys
    beta = starts.reindex(partner).to_numpy()
    expected = np.minimum(1.0, beta * profile[buckets])
    return pd.DataFrame({"pair": rows, "hit": hit, "expected": expected}).groupby("pair").sum()


def sync_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    activity = active_buckets(data, config)
    if activity.empty:
        return empty_pairs()
    n_buckets = int(activity["bucket"].max()) + 1
    sizes = activity.groupby("account").size()
    informative = sizes[(sizes >= config.sync_min_active_buckets) & (sizes <= MAX_ACTIVE_FRACTION * n_buckets)]
    activity = activity[activity["account"].isin(informative.index)]
    if activity["account"].nunique() < 2:
        return empty_pairs()
    pairs = _candidates(activity, config)
    if pairs.empty:
        return empty_pairs()
    # Chance that a random active bucket of some account falls within one bucket of t, from the population's
    # own rhythm: the share of all activity in t-1..t+1.
    load = np.bincount(activity["bucket"].to_numpy(), minlength=n_buckets).astype(np.float64)
    dilated = load + np.concatenate([[0.0], load[:-1]]) + np.concatenate([load[1:], [0.0]])
    profile = dilated / load.sum()
    forward = _covered(pairs, activity, profile, n_buckets)
    backward = _covered(pairs.rename(columns={"a": "b", "b": "a"}), activity, profile, n_buckets)
    hits = forward["hit"].to_numpy() + backward["hit"].to_numpy()
    expected = forward["expected"].to_numpy() + backward["expected"].to_numpy()
    total = sizes.reindex(pairs["a"]).to_numpy() + sizes.reindex(pairs["b"]).to_numpy()
    excess = np.clip((hits - expected) / np.maximum(total - expected, 1.0), 0.0, 1.0)
    log10_p = poisson.logsf(hits - 1, np.maximum(expected, 1e-9)) / np.log(10.0)
    significant = log10_p + np.log10(len(pairs)) < 0
    raw = np.where(significant, LOCKSTEP_RAW * excess, 0.0)
    out = pd.DataFrame({"a": pairs["a"].to_numpy(), "b": pairs["b"].to_numpy(), "raw": raw})
    return out[out["raw"] > 0].reset_index(drop=True)


def model_switches(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """Accounts that moved most of their traffic to a model first seen inside the window: account, model, ts."""
    events = data.events[data.events["model"].notna()]
    columns = ["account", "model", "ts"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    start, end = int(data.events["ts"].min()), int(data.events["ts"].max())
    release = events.groupby("model")["ts"].min()
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
        after = data.events[data.events["account"].isin(switch.index)]
        after = after[after["ts"].to_numpy() >= switch.reindex(after["account"]).to_numpy()]
        share = (after["model"] == model).groupby(after["account"]).mean()
        moved = switch[share.reindex(switch.index).fillna(0.0).to_numpy() >= config.migration_min_share_after]
        rows.append(pd.DataFrame({"account": moved.index.to_numpy(), "model": model, "ts": moved.to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def migration_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    switches = model_switches(data, config)
    if switches.empty:
        return empty_pairs()
    keys, models = pd.factorize(switches["model"])
    released = data.events[data.events["model"].notna()].groupby("model")["ts"].min()
    span = pd.Series(float(data.events["ts"].max()) - released.reindex(models).to_numpy(np.float64))
    burst_of_row, bursts = find_bursts(
        switches["ts"].to_numpy(np.float64), keys.astype(np.int64),
        window=config.migration_window_hours * 3600, span=span, min_size=3,
    )  # fmt: skip
    return burst_pairs(
        switches["account"].to_numpy(np.int64), burst_of_row, bursts, n_accounts=data.n_accounts,
        max_group_size=config.max_group_size, degree=config.sparse_degree, seed=config.seed,
    )  # fmt: skip
