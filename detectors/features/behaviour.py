"""Per-account request behaviour: volume, timing, request shape, prompt style, model pivots.

Thresholds (``cot_threshold``, ``high_temperature`` …) are constructor parameters; the
CoT and rubric scores themselves come from :mod:`detectors.prompts` at ingest (system
prompts included), so they exist in every retention mode.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.base import Batch, FeatureExtractor, Kept, TableSpec, empty_features
from detectors.features.aggregate import (
    DAY_NS,
    HOUR_NS,
    MINUTE_NS,
    column,
    computed_rows,
    count_by_account,
    normalised_entropy,
    per_account,
    ratio,
    repeat_share,
    sum_by_account,
)
from detectors.features.timezones import COUNTRY_UTC_OFFSET
from detectors.features.tokens import stable_codes

HOURS = [f"h{h:02d}" for h in range(24)]
_COUNTS = [
    "n", "n_status", "n_error", "n_rate_limited", "n_tokens", "prompt_tokens", "completion_tokens",
    "n_max_tokens", "n_saturated", "n_cot_known", "n_cot", "cot_score_e4", "n_rubric_known", "n_rubric",
    "n_turns_known", "n_single_turn", "n_depth1", "n_depth2", "n_depth3", "user_turns", "n_tool_use",
    "n_sampling_known", "n_multi_sample", "n_multi_sample_hot", "n_first_cot_known", "n_first_cot",
    "n_followup_cot_known", "n_followup_cot",
]  # fmt: skip
SCORE_SCALE = 10_000  # scores are stored as integers so that merged sums are exact
# from an account's own request times alone (see FeatureExtractor.own_features), as is repeated_prompt_share
TIMING_FEATURES = ("interarrival_cv", "interarrival_burstiness", "concurrent_request_share", "peak_requests_per_minute")


class BehaviourFeatures(FeatureExtractor):
    """Volume, activity rhythm, inter-arrival regularity, request shape and model-pivot features."""

    own_features = frozenset((*TIMING_FEATURES, "repeated_prompt_share"))
    feature_names = (
        "request_count",
        "requests_per_active_day",
        "active_day_share",
        "active_hour_entropy",
        "active_hour_coverage",
        "active_hours_per_active_day",
        "local_night_activity_share",
        "interarrival_cv",
        "interarrival_burstiness",
        "concurrent_request_share",
        "peak_requests_per_minute",
        "single_turn_share",
        "user_turns_mean",
        "unanchored_history_share",
        "max_tokens_saturation_share",
        "completion_prompt_token_ratio",
        "cot_elicitation_rate",
        "cot_score_mean",
        "cot_depth_disparity",
        "rubric_prompt_rate",
        "repeated_prompt_share",
        "multi_sample_share",
        "multi_sample_high_temperature_share",
        "tool_use_share",
        "new_model_traffic_share_24h",
        "new_model_adoption_hours",
        "error_share",
        "rate_limited_share",
    )

    def __init__(
        self,
        cot_threshold: float = 0.5,
        rubric_threshold: float = 0.5,
        high_temperature: float = 0.7,
        saturation_fraction: float = 0.95,
        concurrency_seconds: float = 1.0,
        new_model_after_hours: float = 24.0,
    ) -> None:
        self.cot_threshold = cot_threshold
        self.rubric_threshold = rubric_threshold
        self.high_temperature = high_temperature
        self.saturation_fraction = saturation_fraction
        self.concurrency_seconds = concurrency_seconds
        self.new_model_after_hours = new_model_after_hours

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        for name in ("cot_threshold", "rubric_threshold", "saturation_fraction"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.concurrency_seconds < 0 or self.new_model_after_hours < 0:
            raise ValueError("concurrency_seconds and new_model_after_hours must not be negative")
        return super().fit(events, accounts)

    def table_specs(self) -> dict[str, TableSpec]:
        day_aggs: dict[str, Any] = {c: "sum" for c in [*_COUNTS, *HOURS]}
        day_aggs.update(first_ts="min", last_ts="max")
        return {
            "behaviour_day": TableSpec(("account_id", "day"), day_aggs),
            "behaviour_prompt": TableSpec(("account_id", "day", "text_key"), {"n": "sum"}),
            "behaviour_model": TableSpec(("account_id", "day", "hour", "model"), {"n": "sum"}),
            "behaviour_seq": TableSpec((), {}),
        }

    def partial(self, batch: Batch) -> dict[str, pd.DataFrame]:
        events, ts, day, account = batch.events, batch.ts, batch.day, batch.account
        status = column(events, "status")
        prompt_tokens = column(events, "prompt_tokens")
        completion = column(events, "completion_tokens")
        max_tokens = column(events, "max_tokens")
        cot = column(events, "cot_score")
        rubric = column(events, "rubric_score")
        n_messages = column(events, "n_messages")
        user_turns = column(events, "n_user_turns")
        assistant_turns = column(events, "n_assistant_turns")
        has_system = np.nan_to_num(column(events, "has_system"))
        tools = column(events, "tools")
        samples = column(events, "n")
        temperature = column(events, "temperature")
        tokens_known = ~np.isnan(prompt_tokens) & ~np.isnan(completion)
        max_known = ~np.isnan(max_tokens) & (max_tokens > 0) & ~np.isnan(completion)
        turns_known = ~np.isnan(n_messages) & (n_messages > 0)
        # messages that are neither user, assistant nor the system prompt are tool results
        tool_messages = np.nan_to_num(n_messages - user_turns - assistant_turns - has_system) > 0
        multi = ~np.isnan(samples) & (samples > 1)
        # the prompt rates count requests that carry words of the client's own: a tool result sent back in a user
        # turn (an agent loop's continuation) has no text to ask for anything, and counting it would dilute an
        # agent-loop harvest's reasoning rate by its loop length.  Text hashes tell; where retention stores none
        # (``none``), every request counts as before.
        own_text = _own_text(events)
        prompt_known = ~np.isnan(cot) & own_text
        rubric_known = ~np.isnan(rubric) & own_text
        flags = {
            "n": np.ones(len(ts), dtype=bool),
            "n_status": ~np.isnan(status),
            "n_error": status >= 400,
            "n_rate_limited": status == 429,
            "n_tokens": tokens_known,
            "n_max_tokens": max_known,
            "n_saturated": max_known & (completion >= self.saturation_fraction * max_tokens),
            "n_cot_known": prompt_known,
            "n_cot": prompt_known & (cot >= self.cot_threshold),
            "n_rubric_known": rubric_known,
            "n_rubric": rubric_known & (rubric >= self.rubric_threshold),
            "n_turns_known": turns_known,
            "n_single_turn": turns_known & (user_turns <= 1) & (np.nan_to_num(assistant_turns) == 0),
            "n_depth1": turns_known & (user_turns == 1),
            "n_depth2": turns_known & (user_turns == 2),
            "n_depth3": turns_known & (user_turns == 3),
            "n_first_cot_known": turns_known & (user_turns == 1) & ~np.isnan(cot),
            "n_first_cot": turns_known & (user_turns == 1) & (cot >= self.cot_threshold),
            "n_followup_cot_known": turns_known & (user_turns >= 2) & ~np.isnan(cot),
            "n_followup_cot": turns_known & (user_turns >= 2) & (cot >= self.cot_threshold),
            "n_tool_use": (np.nan_to_num(tools) > 0) | tool_messages,
            "n_sampling_known": ~np.isnan(samples) | ~np.isnan(temperature),
            "n_multi_sample": multi,
            "n_multi_sample_hot": multi & (temperature >= self.high_temperature),
        }
        values: dict[str, Any] = {name: flag.astype(np.int64) for name, flag in flags.items()}
        values.update(
            prompt_tokens=np.where(tokens_known, prompt_tokens, 0).astype(np.int64),
            completion_tokens=np.where(tokens_known, completion, 0).astype(np.int64),
            cot_score_e4=np.rint(np.where(prompt_known, np.nan_to_num(cot), 0.0) * SCORE_SCALE).astype(np.int64),
            user_turns=np.where(turns_known, np.nan_to_num(user_turns), 0).astype(np.int64),
            first_ts=ts,
            last_ts=ts,
        )
        # one row per (account, day, hour of day) first: 24 hour columns per event would cost 24x the memory
        hour_of_day = (ts // HOUR_NS) % 24
        keys = {"account_id": account, "day": day}
        per_hour = pd.DataFrame({"a": account, "d": day, "h": hour_of_day}).groupby(["a", "d", "h"]).size()
        hours = per_hour.unstack("h", fill_value=0).reindex(columns=range(24), fill_value=0)
        day_aggs = {k: v for k, v in self.table_specs()["behaviour_day"].aggs.items() if k not in HOURS}
        day_table = batch.table(keys, values, day_aggs)
        day_table[HOURS] = hours.to_numpy(dtype=np.int64)  # both sorted by (account, day)

        text_key = batch.cached("text_key", lambda: stable_codes(events["text_hash"]))
        has_text = text_key != 0
        prompt = batch.table({"account_id": account[has_text], "day": day[has_text], "text_key": text_key[has_text]},
                             {"n": np.ones(int(has_text.sum()), np.int64)}, {"n": "sum"})
        model_codes, model_names = pd.factorize(events["model"].to_numpy(dtype=object), sort=True)
        has_model = model_codes >= 0
        model = batch.table(
            {"account_id": account[has_model], "day": day[has_model], "hour": ts[has_model] // HOUR_NS,
             "model": model_codes[has_model]},
            {"n": np.ones(int(has_model.sum()), np.int64)}, {"n": "sum"})
        model["model"] = np.asarray(model_names, dtype=object)[model["model"].to_numpy(dtype=np.int64)]
        sequence = batch.rows({"account_id": account, "day": day, "ts": ts})
        return {"behaviour_day": day_table, "behaviour_prompt": prompt, "behaviour_model": model,
                "behaviour_seq": sequence}

    def finalize(self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None,
                 n_accounts: int, kept: Kept | None = None) -> pd.DataFrame:
        out = empty_features(n_accounts, self.feature_names)
        days = tables.get("behaviour_day")
        if days is None or days.empty or now_ns is None:
            return out
        missing = {c: 0 for c in _COUNTS if c not in days.columns}  # a state stored before a count was added
        sums = sum_by_account(days.assign(**missing) if missing else days, [*_COUNTS, *HOURS], n_accounts)
        n = sums["n"]
        active_days = count_by_account(days, n_accounts)
        first_day = per_account(days.groupby("account", sort=True)["first_ts"].min() // DAY_NS, n_accounts)
        out["request_count"] = n
        out["requests_per_active_day"] = ratio(n, active_days)
        out["active_day_share"] = ratio(active_days, now_ns // DAY_NS - first_day + 1)
        hours = sums[HOURS].to_numpy(dtype=np.float64)
        out["active_hour_entropy"] = normalised_entropy(hours, 24)
        out["active_hour_coverage"] = np.where(n > 0, (hours > 0).sum(axis=1) / 24.0, np.nan)
        hours_per_day = pd.Series((days[HOURS].to_numpy() > 0).sum(axis=1), index=days.index)
        out["active_hours_per_active_day"] = per_account(hours_per_day.groupby(days["account"].to_numpy()).mean(),
                                                         n_accounts)
        out["local_night_activity_share"] = _local_night_share(hours, accounts)
        out["single_turn_share"] = ratio(sums["n_single_turn"], sums["n_turns_known"])
        out["user_turns_mean"] = ratio(sums["user_turns"], sums["n_turns_known"])
        out["unanchored_history_share"] = _unanchored_history(sums)
        out["max_tokens_saturation_share"] = ratio(sums["n_saturated"], sums["n_max_tokens"])
        out["completion_prompt_token_ratio"] = ratio(sums["completion_tokens"], sums["prompt_tokens"])
        out["cot_elicitation_rate"] = ratio(sums["n_cot"], sums["n_cot_known"])
        out["cot_score_mean"] = ratio(sums["cot_score_e4"] / SCORE_SCALE, sums["n_cot_known"])
        out["cot_depth_disparity"] = _cot_depth_disparity(sums)
        out["rubric_prompt_rate"] = ratio(sums["n_rubric"], sums["n_rubric_known"])
        out["multi_sample_share"] = ratio(sums["n_multi_sample"], sums["n_sampling_known"])
        out["multi_sample_high_temperature_share"] = ratio(sums["n_multi_sample_hot"], sums["n_sampling_known"])
        out["tool_use_share"] = ratio(sums["n_tool_use"], n)
        out["error_share"] = ratio(sums["n_error"], sums["n_status"])
        out["rate_limited_share"] = ratio(sums["n_rate_limited"], sums["n_status"])
        skip = kept.mask if kept is not None else None
        repeated = repeat_share(tables.get("behaviour_prompt"), "text_key", n_accounts, skip=skip)
        timing = _timing(tables.get("behaviour_seq"), self.concurrency_seconds, n_accounts, skip=skip)
        own = timing.assign(repeated_prompt_share=repeated.to_numpy())
        out[own.columns] = kept.fill(own) if kept is not None else own
        pivot = _model_pivot(tables.get("behaviour_model"), self.new_model_after_hours, n_accounts)
        out[pivot.columns] = pivot
        return out


def _local_night_share(hours: npt.NDArray[np.float64], accounts: pd.DataFrame) -> npt.NDArray[Any]:
    """Share of requests between 00:00 and 06:00 local time of the billing country."""
    country = accounts["country"].astype("object").to_numpy()
    offset = np.array([COUNTRY_UTC_OFFSET.get(str(c).upper(), np.nan) if isinstance(c, str) else np.nan
                       for c in country], dtype=np.float64)
    known = ~np.isnan(offset)
    local_night = np.arange(6)
    utc_hour = (local_night[None, :] - np.nan_to_num(offset).astype(np.int64)[:, None]) % 24
    night = np.take_along_axis(hours, utc_hour, axis=1).sum(axis=1)
    totals = hours.sum(axis=1)
    return np.where(known & (totals > 0), night / np.where(totals > 0, totals, 1), np.nan)


def _own_text(events: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Requests whose last user turn has words of its own (a text hash), or all of them where no hashes are kept."""
    if "text_hash" not in events.columns:
        return np.ones(len(events), dtype=bool)
    hashed = events["text_hash"].notna().to_numpy(dtype=bool)
    return hashed if hashed.any() else np.ones(len(events), dtype=bool)


def _unanchored_history(sums: pd.DataFrame) -> pd.Series:
    """Share of requests carrying a chat history that no observed conversation start accounts for.

    Every genuine conversation, relayed by a chat client or a stateless app backend alike, reaches its
    second or third user turn only after a request with one user turn, so per account the requests at
    depth 2 (or 3) cannot outnumber those at depth 1.  Fabricated histories (a harvesting prompt dressed
    as the next turn of a made-up chat) break that bound.  Deeper turns are left out: clients trim long
    histories, which piles requests up at the trimmed depth.
    """
    excess = np.maximum(sums["n_depth2"], sums["n_depth3"]) - sums["n_depth1"]
    return ratio(excess.clip(lower=0), sums["n_turns_known"])


def _cot_depth_disparity(sums: pd.DataFrame) -> pd.Series:
    """How far the step-by-step reasoning rate of follow-up turns is from that of first turns, either way.

    An app's fixed reasoning system prompt asks for reasoning at every depth of its users' conversations alike,
    and people's own reasoning requests come at any turn; a harvest run through conversations elicits reasoning
    where its script does: in a follow-up asked after every task ("now explain step by step"), or in the task of
    an agent loop whose later turns only carry tool results.  The absolute difference of the two rates, less two
    standard errors of that difference (so that a few conversations show no disparity by chance), at least 0;
    NaN without both first turns and follow-ups whose reasoning score is known.
    """
    n_first, n_followup = sums["n_first_cot_known"], sums["n_followup_cot_known"]
    first = ratio(sums["n_first_cot"], n_first)
    followup = ratio(sums["n_followup_cot"], n_followup)
    # the standard errors use Laplace-smoothed rates, so that 1 of 1 against 0 of 1 is not a certain difference
    smooth_first = (sums["n_first_cot"] + 1) / (n_first + 2)
    smooth_followup = (sums["n_followup_cot"] + 1) / (n_followup + 2)
    error = np.sqrt(ratio(smooth_first * (1 - smooth_first), n_first)
                    + ratio(smooth_followup * (1 - smooth_followup), n_followup))
    return ((followup - first).abs() - 2.0 * error).clip(lower=0.0)


def _timing(
    sequence: pd.DataFrame | None, concurrency_seconds: float, n_accounts: int,
    skip: npt.NDArray[np.bool_] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Inter-arrival statistics and the busiest minute of each account (``skip``: positions left NaN, their rows not
    read: each account's figures depend on its own rows alone)."""
    names = list(TIMING_FEATURES)
    out = pd.DataFrame(np.nan, index=pd.RangeIndex(n_accounts), columns=names)
    if sequence is None or sequence.empty:
        return out
    codes = sequence["account"].to_numpy(dtype=np.int64)
    ts = sequence["ts"].to_numpy(dtype=np.int64)
    rows = computed_rows(codes, skip)
    if rows is not None:
        if len(rows) == 0:
            return out
        codes, ts = codes[rows], ts[rows]
    order = np.lexsort((ts, codes))
    codes, ts = codes[order], ts[order]
    same = codes[1:] == codes[:-1]
    gaps = (np.diff(ts)[same] / 1e9).astype(np.float64)
    frame = pd.DataFrame({"owner": codes[1:][same], "gap": gaps, "close": gaps <= concurrency_seconds})
    grouped = frame.groupby("owner", sort=True)
    stats = pd.DataFrame({"n": grouped.size(), "mean": grouped["gap"].mean(), "std": grouped["gap"].std(ddof=0),
                          "close": grouped["close"].mean()})
    enough = stats["n"] >= 2
    out["interarrival_cv"] = per_account(ratio(stats["std"], stats["mean"]).where(enough), n_accounts)
    out["interarrival_burstiness"] = per_account(
        ratio(stats["std"] - stats["mean"], stats["std"] + stats["mean"]).where(enough), n_accounts)
    out["concurrent_request_share"] = per_account(stats["close"], n_accounts)
    minute = ts // MINUTE_NS
    new_minute = np.r_[True, (codes[1:] != codes[:-1]) | (minute[1:] != minute[:-1])]
    starts = np.flatnonzero(new_minute)
    per_minute = np.diff(np.r_[starts, len(ts)])
    peak = pd.Series(per_minute).groupby(codes[starts]).max()
    out["peak_requests_per_minute"] = per_account(peak, n_accounts)
    return out


def _model_pivot(models: pd.DataFrame | None, after_hours: float, n_accounts: int) -> pd.DataFrame:
    """How fast accounts move to a model that appears during the data (released > ``after_hours`` in).

    Release = the first hour anyone used it.  Share = the account's requests on the new
    model / all its requests in the 24 h after release (best over new models); adoption =
    hours from release to the account's first request on it (fastest over new models).
    """
    names = ["new_model_traffic_share_24h", "new_model_adoption_hours"]
    out = pd.DataFrame(np.nan, index=pd.RangeIndex(n_accounts), columns=names)
    if models is None or models.empty:
        return out
    release = models.groupby("model", sort=True)["hour"].min()
    start = int(models["hour"].min())
    new_models = release[release > start + after_hours]
    shares: list[pd.Series] = []
    adoptions: list[pd.Series] = []
    for model, hour in new_models.items():
        in_window = models[(models["hour"] >= hour) & (models["hour"] < hour + 24)]
        total = in_window.groupby("account", sort=True)["n"].sum()
        on_new = in_window[in_window["model"] == model].groupby("account", sort=True)["n"].sum()
        shares.append(ratio(on_new.reindex(total.index, fill_value=0), total))
        used = models[models["model"] == model]
        adoptions.append((used.groupby("account", sort=True)["hour"].min() - hour).astype("float64"))
    if shares:
        out["new_model_traffic_share_24h"] = per_account(pd.concat(shares, axis=1).max(axis=1), n_accounts)
        out["new_model_adoption_hours"] = per_account(pd.concat(adoptions, axis=1).min(axis=1), n_accounts)
    return out
