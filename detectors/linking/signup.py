"""Sign-up bursts: accounts created close together through one channel with look-alike e-mail domains.

"Look-alike" is the domain's shape with digit runs masked (``mail-4821.xyz`` and ``mail-93.xyz`` look alike);
a burst is judged against that key's own sign-up rate (:mod:`.bursts`), so a busy provider's steady stream is
not a burst while forty accounts from one throwaway domain in half an hour are.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from detectors.linking.bursts import burst_pairs, find_bursts
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput, epoch_seconds
from detectors.linking.pairs import empty_pairs

_DIGITS = re.compile(r"\d+")


def email_shape(domain: str) -> str:
    return _DIGITS.sub("#", domain.strip().lower())


def signup_keys(accounts: pd.DataFrame) -> pd.Series:
    channel = accounts["signup_channel"].astype("string").fillna("?").str.lower()
    shape = accounts["email_domain"].astype("string").fillna("?").map(email_shape)
    return (channel + "|" + shape.astype("string")).astype("string")


def signup_bursts(data: LinkingInput, config: LinkingConfig) -> tuple[np.ndarray, pd.DataFrame]:
    """Burst id of each account code (-1: none) and the burst table (key, size, start, end, log10_p, raw)."""
    created = epoch_seconds(data.accounts["created_at"])
    known = ~np.isnan(created)
    burst_of_account = np.full(data.n_accounts, -1, dtype=np.int64)
    if known.sum() < config.signup_min_burst:
        return burst_of_account, pd.DataFrame(columns=["key", "size", "start", "end", "log10_p", "raw"])
    seconds = created[known]
    keys, _ = pd.factorize(signup_keys(data.accounts[known]))
    span = float(seconds.max() - seconds.min())
    burst_of_row, bursts = find_bursts(
        seconds, keys.astype(np.int64), window=config.signup_window_hours * 3600,
        span=span, min_size=config.signup_min_burst,
    )  # fmt: skip
    burst_of_account[np.flatnonzero(known)] = burst_of_row
    return burst_of_account, bursts


def signup_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    burst_of_account, bursts = signup_bursts(data, config)
    if bursts.empty:
        return empty_pairs()
    return burst_pairs(
        np.arange(data.n_accounts, dtype=np.int64), burst_of_account, bursts, n_accounts=data.n_accounts,
        max_group_size=config.max_group_size, degree=config.sparse_degree, seed=config.seed,
    )  # fmt: skip
