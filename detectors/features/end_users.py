"""Per-account features over the account's end users (the optional ``end_user_id`` of each request).

A reseller, proxy network or SaaS backend bills many people's traffic to one account.  When a few of those
"customers" harvest reasoning traces, the account-level rates are diluted by everyone else's ordinary chats, but
the harvest stays concentrated in the end users who send it.  So per end user we compare its CoT-elicitation rate
with the account's own rate: an end user asking for step-by-step reasoning far more often than the account as a
whole stands out, while an app whose system prompt asks every request for reasoning (every end user at the
account's rate) and an app of organic chats (every end user near zero) do not.

Accounts without end-user ids (most direct customers, eval runners) get NaN: no evidence either way.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from detectors.base import Batch, FeatureExtractor, Kept, TableSpec, empty_features
from detectors.features.aggregate import column, per_account, ratio, sum_by_account
from detectors.features.tokens import stable_codes

_COUNTS = ["n", "n_cot_known", "n_cot"]


class EndUserFeatures(FeatureExtractor):
    """How many end users an account relays and whether reasoning harvesting concentrates in a few of them."""

    feature_names = (
        "end_user_count",
        "end_user_cot_excess",
        "end_user_top_cot_rate",
        "end_user_top_request_share",
    )

    def __init__(self, cot_threshold: float = 0.5, min_requests: int = 20, pseudo_requests: float = 50.0) -> None:
        self.cot_threshold = cot_threshold
        self.min_requests = min_requests
        self.pseudo_requests = pseudo_requests

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        if not 0.0 < self.cot_threshold <= 1.0:
            raise ValueError("cot_threshold must be in (0, 1]")
        if self.min_requests < 1 or self.pseudo_requests < 0:
            raise ValueError("min_requests must be positive and pseudo_requests not negative")
        return super().fit(events, accounts)

    def table_specs(self) -> dict[str, TableSpec]:
        aggs: dict[str, Any] = {c: "sum" for c in _COUNTS}
        return {
            "end_user_account": TableSpec(("account_id", "day"), aggs),
            "end_user": TableSpec(("account_id", "day", "end_user"), aggs),
        }

    def partial(self, batch: Batch) -> dict[str, pd.DataFrame]:
        events, account, day = batch.events, batch.account, batch.day
        cot = column(events, "cot_score")
        values = {
            "n": np.ones(len(batch), dtype=np.int64),
            "n_cot_known": (~np.isnan(cot)).astype(np.int64),
            "n_cot": (cot >= self.cot_threshold).astype(np.int64),
        }
        aggs: dict[str, Any] = {c: "sum" for c in _COUNTS}
        whole = batch.table({"account_id": account, "day": day}, values, aggs)
        end_user = stable_codes(events["end_user_id"])
        known = end_user != 0
        per_user = batch.table(
            {"account_id": account[known], "day": day[known], "end_user": end_user[known]},
            {name: value[known] for name, value in values.items()}, aggs)
        return {"end_user_account": whole, "end_user": per_user}

    def finalize(self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None,
                 n_accounts: int, kept: Kept | None = None) -> pd.DataFrame:
        out = empty_features(n_accounts, self.feature_names)
        whole, users = tables.get("end_user_account"), tables.get("end_user")
        if whole is None or whole.empty or users is None or users.empty:
            return out
        sums = sum_by_account(whole, _COUNTS, n_accounts)
        account_rate = ratio(sums["n_cot"], sums["n_cot_known"]).to_numpy()
        per_user = users.groupby(["account", "end_user"], sort=True)[_COUNTS].sum().reset_index()
        owner = per_user["account"].to_numpy(dtype=np.int64)
        grouped = per_user.groupby("account", sort=True)
        out["end_user_count"] = per_account(grouped.size().astype("float64"), n_accounts)
        out["end_user_top_request_share"] = per_account(
            grouped["n"].max() / sums["n"].reindex(grouped.size().index), n_accounts)
        known = per_user["n_cot_known"].to_numpy(dtype=np.float64)
        expected = known * np.nan_to_num(account_rate[owner])
        # the end user's rate above the account's, shrunk towards the account's rate by pseudo-requests: a couple of
        # reasoning questions from a light user is noise, hundreds from one heavy user are not
        excess = (per_user["n_cot"].to_numpy(dtype=np.float64) - expected) / (known + self.pseudo_requests)
        eligible = known >= self.min_requests
        has_users = out["end_user_count"].notna().to_numpy()
        candidates = pd.DataFrame({"account": owner[eligible], "excess": excess[eligible],
                                   "rate": ratio(per_user["n_cot"], per_user["n_cot_known"]).to_numpy()[eligible]})
        best = candidates.sort_values(["account", "excess"], kind="stable").groupby("account", sort=True).last()
        top_excess = per_account(best["excess"].clip(lower=0.0), n_accounts)
        # end users exist but none has enough requests to stand out: no excess (0), unlike no end users at all (NaN)
        out["end_user_cot_excess"] = top_excess.where(~has_users | top_excess.notna(), 0.0)
        out["end_user_top_cot_rate"] = per_account(best["rate"], n_accounts)
        return out
