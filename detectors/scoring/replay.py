"""Suite replay: does an account send the same prompts to the same model again in a later run?

Evaluation re-runs a fixed suite — the benchmark again this afternoon, tomorrow, after a prompt change, on every
release — so most of an eval runner's distinct (model, prompt) requests recur hours or days apart.  A harvest
wants outputs it does not have yet: it walks new prompts (a sweep), samples one prompt many times in a row, or
moves its prompts to a new model, and barely ever re-asks the same model the same prompt hours later.  People
repeat a few openers ("hi", "continue"), a share of their distinct prompts, not most of them.

A pair is replayed when its sendings span at least :data:`REPLAY_GAP_SECONDS`: samples in a row take minutes, a
second run comes hours later.  (A gap, not calendar days: two runs nine hours apart on one UTC day are a re-run,
and samples a minute either side of midnight are not.)  The share is over an account's distinct (model,
normalised-prompt hash) pairs; it needs the prompt hashes (``full`` and ``hashed`` retention) and is NaN for
accounts with fewer than :data:`MIN_PROMPTS` distinct prompts, whose recurrences say little.  The prior uses it
like a relay (:mod:`.prior`): it explains an account's harvest-like shape, it is no evidence against extraction
intent.  It explains it only for an account that works in bursts: a harvest collecting around the clock from a
finite prompt pool comes back to its prompts too (it resamples their answers), and the prior voids the evidence as
the account's active hours fill its days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE = "suite_replay_share"
MIN_PROMPTS = 20
REPLAY_GAP_SECONDS = 3_600


def suite_replay_share(events: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Per account of ``index``: share of its distinct (model, text_hash) pairs sent again an hour or more after
    their first sending."""
    out = pd.Series(np.nan, index=index, dtype="float64", name=FEATURE)
    if "text_hash" not in events.columns or events.empty:
        return out
    known = (events["text_hash"].notna() & events["account_id"].notna()).to_numpy(dtype=bool)
    if not known.any():
        return out
    # factorised from the columns' own arrays: a million Python strings cost more than the rest
    account, accounts = pd.factorize(events["account_id"].astype("string")[known])
    prompt, prompts = pd.factorize(events["text_hash"].astype("string")[known])
    served = events["model"].astype("string")[known] if "model" in events.columns \
        else pd.Series(np.zeros(int(known.sum())))  # fmt: skip
    model, models = pd.factorize(served)
    stamps = pd.to_datetime(events["ts"], utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)[known]
    # one int64 key per (account, model, prompt), numbered by hashing: integers, no tuples, no sort
    key = (account.astype(np.int64) * (len(models) + 1) + (model + 1)) * max(len(prompts), 1) + prompt
    pair, pairs = pd.factorize(key)
    owner = (pairs // max(len(prompts), 1)) // (len(models) + 1)
    # each pair's first and last sending
    first = np.full(len(pairs), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(pairs), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, pair, stamps)
    np.maximum.at(last, pair, stamps)
    span = last - first
    distinct = np.bincount(owner, minlength=len(accounts))
    replayed = np.bincount(owner, weights=(span >= REPLAY_GAP_SECONDS * 10**9).astype(np.float64),
                           minlength=len(accounts))  # fmt: skip
    share = np.where(distinct >= MIN_PROMPTS, replayed / np.maximum(distinct, 1), np.nan)
    values = pd.Series(share, index=pd.Index(accounts).astype(str))
    return values.reindex(index.astype(str)).set_axis(index).rename(FEATURE)
