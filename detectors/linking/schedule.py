"""A shared job scheduler: accounts whose requests lock onto one phase of one clock period.

An operator who drives many accounts from one job runner fires them on its ticks (every 15 minutes, every hour),
so each account's requests land a little after the same points of the same period however few of them it sends
(SynchroTrap and CopyCatch find such loosely synchronised groups; here the group's shared clock is found per
account first, which works at a few requests a day where pairwise co-activity has too few coincidences to count).

Per account and candidate period ``P`` each cycle of the period in which the account was active casts one vote,
the mean direction of its requests on the circle of phases ``t mod P`` (one long burst is one vote, not hundreds),
and Rayleigh's test asks whether the votes point one way: ``Z = n R²`` for ``n`` votes of mean resultant length
``R``, ``P(Z ≥ z) ≈ exp(-z)`` when phases are uniform.  An account is *locked* at the longest period whose ``Z``
clears a Bonferroni bound over every account and period tested (a 15-minute ticker is also locked at 5 minutes,
but not at 30, where its ticks fall on two opposite phases); its phase is the votes' mean direction.

Accounts locked at one period and nearly one phase share a schedule.  The resource is (period, phase bin), each
account a member of its bin and the nearer neighbour, weighted by the surprise of its users against phases drawn
at random among the accounts locked at that period (:func:`.pairs.surprise_weight`).  Strangers share schedules
too — cron jobs are set to round minutes, :00 above all — so this is a weak identity kind: it proposes pairs (the
scheduler is the operator's own infrastructure) and needs another kind (sign-ups, a client, templates) to link,
and two schedules that both fire within seconds of a whole minute (the cron convention) count for half.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from detectors.arrays import order_by
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.pairs import empty_pairs, group_pairs, nominated_group_pairs, surprise_weight

# Scheduler periods tested, in seconds (what job runners are configured with: 5, 10, 15, 20, 30, 60 minutes).
PERIODS_S: tuple[int, ...] = (300, 600, 900, 1200, 1800, 3600)
# Phase resolution of a shared schedule: a crew's accounts, each estimated from tens of ticks, agree to seconds.
PHASE_BIN_S = 60
# Fewer active cycles than this say nothing about a clock however aligned they are.
MIN_CYCLES = 8
# Family-wise chance of calling one account with uniform phases locked, over every account and period tested.
LOCK_ALPHA = 0.01
# A fully surprising shared schedule is worth this much raw evidence (strength 1 - e^-2 = 0.86).
SCHEDULE_RAW = 2.0
# Cron fires within seconds after a whole minute, and people set crons to round times: two schedules both on the
# minute are the convention, common between strangers, and count for this much less.  A job runner started by
# hand, or a crew whose requests trail its ticks by a deliberate jitter, lands anywhere in the minute.
ON_MINUTE_S = 10.0
ON_MINUTE_DISCOUNT = 0.5

SCHEDULE_COLUMNS = ("account", "period_s", "phase_s", "cycles", "resultant", "z")


def locked_schedules(data: LinkingInput) -> pd.DataFrame:
    """One row per locked account: ``account`` (code), ``period_s``, ``phase_s`` (seconds into the period),
    ``cycles`` (votes), ``resultant`` (R) and ``z`` (Rayleigh's statistic) at its longest locked period."""
    events = data.events
    empty = pd.DataFrame({c: pd.Series(dtype="int64" if c in ("account", "period_s", "cycles") else "float64")
                          for c in SCHEDULE_COLUMNS})  # fmt: skip
    if events.empty:
        return empty
    accounts = events["account"].to_numpy(np.int64)
    ts = events["ts"].to_numpy(np.int64)
    order = order_by(accounts, ts)  # an account's requests at one second are interchangeable
    accounts, ts = accounts[order], ts[order]
    new_account = np.concatenate([[True], accounts[1:] != accounts[:-1]])
    n_tested = max(int(new_account.sum()), 1)
    z_min = math.log(n_tested * len(PERIODS_S) / LOCK_ALPHA)
    best: dict[str, np.ndarray] = {
        "period_s": np.zeros(data.n_accounts, np.int64), "phase_s": np.zeros(data.n_accounts),
        "cycles": np.zeros(data.n_accounts, np.int64), "resultant": np.zeros(data.n_accounts),
        "z": np.zeros(data.n_accounts),
    }  # fmt: skip
    for period in PERIODS_S:  # ascending: a longer locked period overwrites a shorter one
        cycle = ts // period
        starts = new_account | np.concatenate([[True], cycle[1:] != cycle[:-1]])
        group = np.cumsum(starts) - 1
        # the cosine and sine of each phase from a table of the period's whole seconds: the same values as taking
        # them of a million angles, at the cost of a lookup
        phase = ts % period
        angles = np.arange(period) * (2.0 * math.pi / period)
        cos = np.bincount(group, weights=np.cos(angles)[phase])
        sin = np.bincount(group, weights=np.sin(angles)[phase])
        length = np.hypot(cos, sin)
        votes = length > 1e-9  # a cycle whose requests cancel out exactly points nowhere
        voter = accounts[starts][votes]
        n = np.bincount(voter, minlength=data.n_accounts)
        x = np.bincount(voter, weights=cos[votes] / length[votes], minlength=data.n_accounts)
        y = np.bincount(voter, weights=sin[votes] / length[votes], minlength=data.n_accounts)
        with np.errstate(invalid="ignore", divide="ignore"):
            resultant = np.where(n > 0, np.hypot(x, y) / np.maximum(n, 1), 0.0)
        z = n * resultant**2
        locked = (n >= MIN_CYCLES) & (z >= z_min)
        best["period_s"][locked] = period
        best["phase_s"][locked] = (np.arctan2(y[locked], x[locked]) % (2.0 * math.pi)) * period / (2.0 * math.pi)
        best["cycles"][locked] = n[locked]
        best["resultant"][locked] = resultant[locked]
        best["z"][locked] = z[locked]
    codes = np.flatnonzero(best["period_s"] > 0)
    if len(codes) == 0:
        return empty
    return pd.DataFrame({"account": codes.astype(np.int64), **{k: v[codes] for k, v in best.items()}})


def schedule_memberships(locked: pd.DataFrame) -> pd.DataFrame:
    """(account, resource, period_s, bin): each locked account in its phase bin and the nearer neighbouring bin,
    so two accounts less than a bin apart always share one."""
    if locked.empty:
        return pd.DataFrame({"account": np.empty(0, np.int64), "resource": np.empty(0, np.int64),
                             "period_s": np.empty(0, np.int64), "bin": np.empty(0, np.int64)})  # fmt: skip
    period = locked["period_s"].to_numpy(np.int64)
    bins = period // PHASE_BIN_S
    position = locked["phase_s"].to_numpy(np.float64) / PHASE_BIN_S
    own = np.floor(position).astype(np.int64) % bins
    neighbour = np.where(position - np.floor(position) >= 0.5, own + 1, own - 1) % bins
    account = locked["account"].to_numpy(np.int64)
    frame = pd.DataFrame({
        "account": np.concatenate([account, account]), "period_s": np.concatenate([period, period]),
        "bin": np.concatenate([own, neighbour]),
    })  # fmt: skip
    frame["resource"] = frame["period_s"] * 10_000 + frame["bin"]
    return frame


def resource_weights(memberships: pd.DataFrame, n_population: int) -> pd.Series:
    """Surprise of each (period, bin)'s users against the accounts locked at that period spread over its phases."""
    users = memberships.groupby("resource")["account"].nunique()
    period = pd.Series(users.index.to_numpy() // 10_000, index=users.index)
    locked_at = memberships.groupby("period_s")["account"].nunique()
    expected = period.map(locked_at).astype("float64") * 2.0 * PHASE_BIN_S / period.astype("float64")
    return surprise_weight(users, expected, n_population)


def schedule_pairs(
    data: LinkingInput, config: LinkingConfig, locked: pd.DataFrame | None = None,
    nominated: pd.DataFrame | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Pairs locked onto one schedule, each pair's best shared (period, phase bin); ``locked``: what
    :func:`locked_schedules` gives for ``data``, when the caller has it already.

    A crew of hundreds on one clock is a group far above ``max_group_size``, expanded into a sample of its pairs;
    ``nominated`` pairs (``a`` < ``b`` codes: the sign-up bursts and migrations, which need an identity kind to
    count) get the schedule's evidence too wherever they share one, sampled or not."""
    locked = locked_schedules(data) if locked is None else locked
    memberships = schedule_memberships(locked)
    if memberships.empty:
        return empty_pairs()
    weights = resource_weights(memberships, int(data.events["account"].nunique()))
    memberships = memberships[memberships["resource"].map(weights).to_numpy() > 0].reset_index(drop=True)
    if memberships.empty:
        return empty_pairs()
    resource = memberships["resource"].to_numpy(np.int64)
    members = memberships["account"].to_numpy(np.int64)
    i, j = group_pairs(resource, members, max_group_size=config.max_group_size, degree=config.sparse_degree,
                       seed=config.seed)  # fmt: skip
    if nominated is not None and len(nominated):
        extra_i, extra_j = nominated_group_pairs(
            resource, members, nominated["a"].to_numpy(np.int64), nominated["b"].to_numpy(np.int64),
            max_group_size=config.max_group_size,
        )  # fmt: skip
        i, j = np.concatenate([i, extra_i]), np.concatenate([j, extra_j])
    if len(i) == 0:
        return empty_pairs()
    a, b = members[i], members[j]
    on_minute = np.zeros(data.n_accounts, dtype=bool)
    on_minute[locked["account"].to_numpy(np.int64)] = locked["phase_s"].to_numpy(np.float64) % 60.0 < ON_MINUTE_S
    convention = np.where(on_minute[a] & on_minute[b], 1.0 - ON_MINUTE_DISCOUNT, 1.0)
    raw = SCHEDULE_RAW * weights.reindex(resource[i]).to_numpy(np.float64) * convention
    key = a * np.int64(data.n_accounts) + b
    unique_keys, inverse = np.unique(key, return_inverse=True)
    best = np.zeros(len(unique_keys))
    np.maximum.at(best, inverse, raw)
    return pd.DataFrame({"a": unique_keys // data.n_accounts, "b": unique_keys % data.n_accounts, "raw": best})
