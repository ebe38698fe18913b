"""Prompt wrappers: the fixed words an operator's harness puts around every task, shared by its accounts.

A harvesting harness wraps each task in the same instructions: a system prompt ("You are ... think step by step
... answer in JSON"), or fixed opening or closing words around the task.  The tasks differ from request to
request, so whole-prompt templates (:mod:`.templates`) do not see the wrapper; its edges do.  Each request yields
up to three *wrapper marks*: its first ``wrapper_tokens`` slot-masked tokens, its last ones (only when the stored
tokens are not cut short, or the end would be arbitrary), and the hash of its system prompt (``full`` retention
only).  A pair's evidence is, over the marks both use, the smaller of their traffic shares on the mark (a habit,
half of an account's requests or more, counting in full: ``LinkingConfig.harness_habit_share``) times the mark's
rarity among accounts, so common openings ("can you explain"), popular system prompts ("You are a helpful
assistant.") and a stray request link nobody, and a mark used by more accounts than the popular size
(``LinkingConfig.popular_size``) is a convention, not a fingerprint.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.linking.config import LinkingConfig
from detectors.linking.encoding import CHUNK_ROWS
from detectors.linking.inputs import LinkingInput
from detectors.linking.pairs import empty_pairs, log_rarity, share_weighted_pairs, steady_uses


def wrapper_marks(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """One row per (event, mark): ``account`` and ``mark`` (a 64-bit hash, as int64): per chunk of rows its
    openings then its closings, then every system prompt."""
    codes = data.event_codes(config)
    accounts = data.events["account"].to_numpy(np.int64)
    parts: list[pd.DataFrame] = []
    for start in range(0, len(codes), CHUNK_ROWS):
        chunk = slice(start, start + CHUNK_ROWS)
        for marks, present in ((codes.opening, codes.has_opening), (codes.closing, codes.has_closing)):
            rows = start + np.flatnonzero(present[chunk])
            if len(rows):
                parts.append(pd.DataFrame({"account": accounts[rows], "mark": marks[rows]}))
    rows = np.flatnonzero(codes.has_system)
    if len(rows):
        parts.append(pd.DataFrame({"account": accounts[rows], "mark": codes.system[rows]}))
    if not parts:
        return pd.DataFrame({"account": np.empty(0, np.int64), "mark": np.empty(0, np.int64)})
    return pd.concat(parts, ignore_index=True)


def account_marks(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    """Distinct (account, mark) uses: ``account``, ``mark`` (dense code), ``share`` of the account's requests
    carrying it, ``requests`` carrying it and ``users`` (accounts using it at all)."""
    marks = wrapper_marks(data, config)
    if marks.empty:
        return pd.DataFrame({"account": [], "mark": [], "share": [], "requests": [], "users": []})
    uses = marks.groupby(["mark", "account"], sort=False).size().rename("requests").reset_index()
    uses["mark"] = pd.factorize(uses["mark"])[0]
    totals = np.bincount(data.events["account"].to_numpy(np.int64), minlength=data.n_accounts)
    uses["share"] = uses["requests"].to_numpy() / totals[uses["account"].to_numpy(np.int64)]
    uses["users"] = uses.groupby("mark")["account"].transform("size")
    return uses


def wrapper_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    uses = account_marks(data, config)
    if uses.empty:
        return empty_pairs()
    population = data.n_active
    users = uses.drop_duplicates("mark").set_index("mark")["users"]
    weights = log_rarity(users, population).where(users <= config.popular_size(population), 0.0)
    kept = steady_uses(uses, "mark", weights, min_share=config.min_wrapper_share, config=config)
    if kept.empty:
        return empty_pairs()
    return share_weighted_pairs(
        kept["account"], kept["mark"], kept["share"], weights, n_accounts=data.n_accounts, config=config,
        habit_share=config.harness_habit_share,
    )  # fmt: skip
