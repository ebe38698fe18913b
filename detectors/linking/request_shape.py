"""Request shape: the exact combination of request parameters a client sends, shared by accounts one harness runs.

A harvesting operation drives all its accounts from one script, and a script sends the same parameters every
time: ``max_tokens=12000, temperature=0.75, top_p=0.95``, streaming or not, on one endpoint.  Each value alone is
common; the exact combination often is not.  A pair's evidence is, over the shapes both use, the smaller of their
traffic shares on it (half of an account's requests or more counting in full, a habit: a reseller's account
carries its customers' requests too) times the shape's weight, and a shape's weight is the *surprise* of its user
count given what chance predicts (each field drawn independently at its values' popularity among accounts; see
:func:`~detectors.linking.pairs.surprise_weight`): Poisson tail decades, times the chance that a pair of its users
are both beyond the chance ones.  People who each pick a common ``max_tokens`` and a common ``temperature`` meet on
the same combination about as often as chance says, however few values there are to pick from; accounts that one
script drives meet on it far more often, and the more of them there are the surer it is, so a crew of thirty among
thousands of accounts weighs as much as a crew of three (raw rarity among accounts would weigh it down).  So

* SDK defaults (no sampling parameter set at all) are no evidence whatever their count: nothing was chosen;
* a combination of common values that is as common as its values is no evidence (``temperature=0`` of every eval
  harness, whatever ``max_tokens`` goes with it), and a stranger who happens on a crew's setting is discounted;
* a combination far beyond chance fades as it nears the popular size (``LinkingConfig.popular_size``: 150
  accounts, or 4% of the window's if more), as a popular tool's defaults would (its values are popular together,
  which the independence model misses), and is no evidence beyond;
* one stray request with a rare shape links nobody.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.arrays import first_occurrences, sorted_unique
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.pairs import empty_pairs, share_weighted_pairs, steady_uses, surprise_weight

# Fields whose combination is the shape; the sampling ones are those an operator chooses on purpose.
# Not the tool count: it follows the task and the application's features, not the operator's settings.
SHAPE_FIELDS: tuple[str, ...] = ("endpoint", "max_tokens", "n", "temperature", "top_p", "stream")
SAMPLING_FIELDS: tuple[str, ...] = ("max_tokens", "n", "temperature", "top_p")
# The independence model ignores how fields go together (a client build fixes `stream`, eval harnesses send
# temperature 0 without streaming), so chance is credited with this many times the accounts it predicts.
CHANCE_MARGIN = 10**0.5


def field_codes(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per shape field, a code per event (0: not set), numbered in order of first appearance."""
    out: dict[str, np.ndarray] = {}
    for column in SHAPE_FIELDS:
        if column in events.columns:
            out[column] = pd.factorize(events[column], use_na_sentinel=True)[0].astype(np.int64) + 1
    return out


def event_field_codes(data: LinkingInput) -> dict[str, np.ndarray]:
    """:func:`field_codes` of the input's events, computed once (the shapes and their chance model read them)."""
    return data.shared("shape_field_codes", lambda: field_codes(data.events))


def shape_codes(fields: dict[str, np.ndarray], n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """(shape code of each event, whether the shape sets any sampling parameter), codes numbered from 0 in order
    of first appearance; ``fields``: the events' :func:`field_codes`."""
    key = np.zeros(n_events, dtype=np.int64)
    chosen = np.zeros(n_events, dtype=bool)
    for column, codes in fields.items():
        if column in SAMPLING_FIELDS:
            chosen |= codes > 0
        # refactorise after each field so that the mixed-radix key never overflows
        key = pd.factorize(key * np.int64(int(codes.max(initial=0)) + 1) + codes)[0].astype(np.int64)
    return key, chosen


def expected_users(data: LinkingInput, uses: pd.DataFrame, n_population: int) -> pd.Series:
    """Shape → accounts expected to use it if each field's value were picked independently, at the popularity
    of each value among accounts (an account counts once per value it uses)."""
    codes = event_field_codes(data)
    accounts = data.events["account"].to_numpy(np.int64)
    representative = uses.drop_duplicates("shape")["row"].to_numpy(np.int64)
    log_p = np.zeros(len(representative))
    for values in codes.values():
        distinct = sorted_unique(values * np.int64(max(data.n_accounts, 1)) + accounts)
        popularity = np.bincount(distinct // max(data.n_accounts, 1)) / max(n_population, 1)
        log_p += np.log(np.clip(popularity[values[representative]], 1e-12, 1.0))
    return pd.Series(n_population * np.exp(log_p), index=uses.drop_duplicates("shape")["shape"].to_numpy())


def shape_weights(data: LinkingInput, uses: pd.DataFrame, config: LinkingConfig) -> pd.Series:
    """Shape → evidence weight in [0, 1]: the surprise of its user count given what chance predicts."""
    population = data.n_active
    users = uses.drop_duplicates("shape").set_index("shape")["users"]
    expected = expected_users(data, uses, population).reindex(users.index)
    # a combination far beyond chance yet nearly as popular as a stock setting is more likely a popular tool's
    # defaults (its own values popular, so the independence model undercounts it) than one crew: fade it out by
    # the popular size instead of at a cliff, leaving crews of tens nearly whole (30 of 150 keep 96%)
    popular = (1.0 - (users / config.popular_size(population)) ** 2).clip(lower=0.0)
    weights: pd.Series = surprise_weight(users, CHANCE_MARGIN * expected, population) * popular
    return weights


def describe_shape(row: pd.Series) -> str:
    """'max_tokens=12000, temperature=0.75, stream' for one event row (only the fields it sets)."""
    parts: list[str] = []
    for column in SHAPE_FIELDS:
        value = row.get(column)
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            continue
        if column == "stream":
            parts.append("stream" if bool(value) else "no stream")
        elif column == "endpoint":
            parts.append(str(value))
        else:
            parts.append(f"{column}={value:g}" if isinstance(value, float) else f"{column}={value}")
    return ", ".join(parts)


def account_shapes(data: LinkingInput) -> pd.DataFrame:
    """Distinct (account, shape) uses with the share of the account's requests on that shape, for shapes that set
    a sampling parameter; columns ``account``, ``shape``, ``share``, ``requests``, ``users`` (accounts using
    the shape) and ``row`` (one event row with that shape)."""
    return data.shared("account_shapes", lambda: _account_shapes(data))


def _account_shapes(data: LinkingInput) -> pd.DataFrame:
    shape, chosen = shape_codes(event_field_codes(data), len(data.events))
    accounts = data.events["account"].to_numpy(np.int64)
    if not chosen.any():
        return pd.DataFrame({"account": [], "shape": [], "share": [], "requests": [], "users": [], "row": []})
    n = np.int64(max(data.n_accounts, 1))
    keys, counts = np.unique(shape[chosen] * n + accounts[chosen], return_counts=True)
    member, code = keys % n, keys // n
    totals = np.bincount(accounts, minlength=data.n_accounts)
    uses = pd.DataFrame({"account": member, "shape": code, "share": counts / totals[member], "requests": counts})
    uses["users"] = uses.groupby("shape")["account"].transform("size")
    uses["row"] = first_occurrences(shape)[code]  # shape codes are numbered in order of first appearance
    return uses


def request_shape_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    uses = account_shapes(data)
    if uses.empty:
        return empty_pairs()
    weights = shape_weights(data, uses, config)
    # a shape below this share of an account's requests is not its harness; dropping it first bounds the pairs
    kept = steady_uses(uses, "shape", weights, min_share=config.min_shape_share, config=config)
    if kept.empty:
        return empty_pairs()
    return share_weighted_pairs(
        kept["account"], kept["shape"], kept["share"], weights, n_accounts=data.n_accounts, config=config,
        habit_share=config.harness_habit_share,
    )  # fmt: skip
