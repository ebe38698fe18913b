"""Incremental feature state: per-account partial aggregates that merge exactly.

Every extractor splits its work into a *map* step over a batch of events (the costly
per-event work — IP lookups, tokenising, topic assignment, MinHash — happens here, once
per event) producing small tables of partial aggregates keyed by account and UTC day,
and a *finalize* step that turns merged tables into features.  Merging is concatenation
followed by a group-by on the table's keys with sum/min/max, which is associative and
commutative, so::

    FeatureState.start(...).update(batch_1).update(batch_2).features(accounts)
    == FeatureState.start(...).update(concat(batch_1, batch_2)).features(accounts)
    == compute_features(concat(batch_1, batch_2), accounts, ...)

whatever the order of rows or batches (``tests/detectors/features/test_state.py`` proves it).
Order-dependent statistics (inter-arrival gaps, PRADA successive distances) keep a compact
per-event sequence table (timestamp + a float16 embedding) instead of running sums, so
late-arriving events stay exact too.

Contract for callers:

* feed each event once: ingest already drops duplicate ``request_id`` s, and the state
  cannot tell a replayed batch from new traffic;
* population-relative pieces are explicit: the :class:`~detectors.features.topics.TopicModel`
  and :class:`~detectors.ipintel.IPIntel` given to :meth:`FeatureState.start` are reused for
  every update (refit the topic model → start a new state from all events); sharing counts
  (accounts per IP), the population topic mix and model-release times are recomputed
  from the merged tables in :meth:`FeatureState.features`, so they are always exact;
* the time window is applied at day resolution: ``window_days=w`` keeps the UTC days from
  ``floor(now - w)`` to now's day, where "now" is the newest event ever added;
  :meth:`FeatureState.evict` drops older days for good to bound memory.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from detectors.base import Batch, FeatureExtractor, Kept, TableSpec
from detectors.events import ACCOUNT_COLUMNS
from detectors.features.aggregate import DAY_NS


@dataclass(frozen=True)
class FeatureState:
    """Merged partial aggregates for a set of extractors (pickle it between detection runs)."""

    extractors: tuple[FeatureExtractor, ...]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    now_ns: int | None = None
    n_events: int = 0

    @classmethod
    def start(cls, *, extractors: Sequence[FeatureExtractor]) -> FeatureState:
        """An empty state for already-fitted extractors (see :func:`detectors.features.fit_extractors`)."""
        for extractor in extractors:
            check_is_fitted(extractor, "n_features_out_")
        return cls(extractors=tuple(extractors))

    @property
    def specs(self) -> dict[str, TableSpec]:
        specs: dict[str, TableSpec] = {_ACTIVITY: TableSpec(("account_id", "day"), {"n": "sum"})}
        for extractor in self.extractors:
            specs.update(extractor.table_specs())
        return specs

    def update(self, events: pd.DataFrame, *, timings: dict[str, float] | None = None) -> FeatureState:
        """A new state with ``events`` (never seen before) added; ``self`` is left unchanged.

        ``timings``, if given, receives seconds per step (for benchmarks).
        """
        clock = _Clock(timings)
        batch = Batch(events)
        if not len(batch):
            return self
        new_tables: dict[str, pd.DataFrame] = {_ACTIVITY: _activity(batch)}
        clock.lap("prepare events")
        for extractor in self.extractors:
            new_tables.update(extractor.partial(batch))
            clock.lap(f"{type(extractor).__name__} map")
        specs = self.specs
        accounts = _AccountUnion()
        merged = {name: _merge(self.tables.get(name), new_tables.get(name), specs[name], accounts) for name in specs}
        clock.lap("merge")
        newest = int(batch.ts.max())
        now = newest if self.now_ns is None else max(self.now_ns, newest)
        return replace(self, tables=merged, now_ns=now, n_events=self.n_events + len(batch))

    def evict(self, *, keep_days: float) -> FeatureState:
        """Drop days older than the window ``keep_days`` before now (they can never come back)."""
        if self.now_ns is None:
            return self
        return replace(self, tables=self._windowed(keep_days))

    def features(
        self,
        accounts: pd.DataFrame | None = None,
        *,
        window_days: float | None = None,
        timings: dict[str, float] | None = None,
        reuse: Reuse | None = None,
    ) -> pd.DataFrame:
        """Features per account with events in the window: index account_id (sorted), float columns.

        ``reuse``: an earlier call's features and the accounts whose rows changed since (see :class:`Reuse`); the
        extractors take their :attr:`~detectors.base.FeatureExtractor.own_features` of the other accounts from it
        instead of computing them."""
        clock = _Clock(timings)
        account_meta = _account_meta(accounts)
        tables = self._windowed(window_days) if window_days is not None else dict(self.tables)
        activity = tables.get(_ACTIVITY)
        ids = [] if activity is None or activity.empty else sorted(activity["account_id"].unique().tolist())
        # plain Python strings, not pandas' Arrow strings: an Arrow index converts its 24k ids to objects for every
        # hash table pandas builds on it, and slicing one rebuilds them (scoring's Series arithmetic slices a lot:
        # ~0.3 s of fitting and scoring the risk model on the benchmark window)
        index = pd.Index(np.asarray(ids, dtype=object), dtype=object, name="account_id")
        positions = _AccountUnion()  # most tables share their account categories: looked up once
        positioned = {name: _with_positions(table, index, positions) for name, table in tables.items()}
        aligned = account_meta.reindex(index).reset_index(drop=True)
        kept = reuse.kept(index) if reuse is not None else None
        parts = []
        for extractor in self.extractors:
            usable = kept is not None and extractor.own_features <= set(kept.values.columns)
            part = extractor.finalize(positioned, aligned, now_ns=self.now_ns, n_accounts=len(index),
                                      kept=kept if usable else None)  # fmt: skip
            parts.append(part.reindex(pd.RangeIndex(len(index))))
            clock.lap(f"{type(extractor).__name__} finalize")
        if not parts:
            return pd.DataFrame(index=index)
        out = pd.concat(parts, axis=1).astype("float64")
        out.index = index
        return out

    def cutoff_day(self, window_days: float | None) -> int | None:
        """The first UTC day (days since the epoch) the window ``window_days`` keeps (None: it keeps every day)."""
        if window_days is None or self.now_ns is None:
            return None
        if window_days <= 0:
            raise ValueError("window_days must be positive")
        return (self.now_ns - int(window_days * DAY_NS)) // DAY_NS

    def _windowed(self, window_days: float | None) -> dict[str, pd.DataFrame]:
        cutoff_day = self.cutoff_day(window_days)
        if cutoff_day is None:
            return dict(self.tables)
        return {name: _from_day(table, cutoff_day) for name, table in self.tables.items()}


@dataclass(frozen=True)
class Reuse:
    """What a finalisation may take from an earlier one: ``previous``, the features it gave (indexed by account_id),
    stand for every account not in ``changed``.  The caller vouches that ``changed`` holds every account whose rows
    were added or dropped since, by new events or by the window moving on, and that ``previous`` comes from this
    state's lineage (the same extractors); only the extractors' own features are taken, the rest is recomputed."""

    previous: pd.DataFrame
    changed: frozenset[str]

    def kept(self, index: pd.Index) -> Kept:
        """The kept accounts among ``index`` (a finalisation's accounts) and their earlier features, by position."""
        # by hashing (Index.isin on Arrow strings tests each of 24k ids in Python against a list: ~0.4 s); features
        # have one row per account, so their index is unique
        known = self.previous.index.get_indexer(index) >= 0
        fresh = np.fromiter((account in self.changed for account in index.tolist()), dtype=bool, count=len(index))
        mask = np.asarray(known & ~fresh, dtype=bool)
        return Kept(mask, self.previous.reindex(index).reset_index(drop=True))


def _from_day(table: pd.DataFrame, cutoff_day: int) -> pd.DataFrame:
    """The rows of ``day`` ``cutoff_day`` or later: the table itself when none is older (no copy)."""
    keep = table["day"].to_numpy() >= cutoff_day
    return table if keep.all() else table[keep]


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.mark = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[name] = self.timings.get(name, 0.0) + now - self.mark
            self.mark = now


_ACTIVITY = "activity"  # events per account and day: defines which accounts have features


def _activity(batch: Batch) -> pd.DataFrame:
    return batch.table({"account_id": batch.account, "day": batch.day}, {"n": np.ones(len(batch), np.int64)},
                       {"n": "sum"})


class _AccountUnion:
    """The sorted union of tables' account categories, and where each table's categories are in an index (the union,
    or a finalisation's accounts), computed once per distinct set of categories: a state's tables mostly share one,
    as do a batch's."""

    def __init__(self) -> None:
        self._unions: list[tuple[list[pd.Index], pd.Index]] = []
        self._positions: list[tuple[pd.Index, pd.Index, np.ndarray]] = []

    def union(self, indexes: list[pd.Index]) -> pd.Index:
        for seen, union in self._unions:
            if len(seen) == len(indexes) and all(_same(a, b) for a, b in zip(seen, indexes, strict=True)):
                return union
        merged: pd.Index = pd.Index(sorted(set().union(*indexes)), dtype=object)
        self._unions.append((indexes, merged))
        return merged

    def positions(self, categories: pd.Index, target: pd.Index) -> np.ndarray:
        for seen, seen_target, positions in self._positions:
            if seen_target is target and _same(seen, categories):
                return positions
        positions = target.get_indexer(categories.astype(object))
        self._positions.append((categories, target, positions))
        return positions


def _same(a: pd.Index, b: pd.Index) -> bool:
    return a is b or (len(a) == len(b) and a.equals(b))


def _merge(
    old: pd.DataFrame | None, new: pd.DataFrame | None, spec: TableSpec, accounts: _AccountUnion | None = None
) -> pd.DataFrame:
    frames = [f for f in (old, new) if f is not None and not f.empty]
    if not frames:
        return new if new is not None else (old if old is not None else pd.DataFrame())
    if len(frames) == 1:
        return frames[0]
    accounts = accounts or _AccountUnion()
    categories = accounts.union([f["account_id"].cat.categories for f in frames])
    codes = [accounts.positions(f["account_id"].cat.categories, categories)[f["account_id"].cat.codes] for f in frames]
    if spec.keys and len(frames) == 2:
        merged = _merge_sorted(frames[0], frames[1], codes[0], codes[1], categories, spec)
        if merged is not None:
            return merged
    combined = pd.concat([f.drop(columns="account_id") for f in frames], ignore_index=True)
    combined.insert(0, "account_id", pd.Series(pd.Categorical.from_codes(np.concatenate(codes), categories=categories)))
    if not spec.keys:
        return combined
    # sorted keys make the merged table identical whatever order its rows arrived in
    return combined.groupby(list(spec.keys), sort=True, observed=True).agg(spec.aggs).reset_index()


_COMBINE = {"sum": np.add, "min": np.minimum, "max": np.maximum}
_KEY_BITS = 62
_SIGN = np.uint64(1 << 63)  # flips int64 into uint64 of the same order


def _merge_sorted(
    old: pd.DataFrame, new: pd.DataFrame, old_codes: np.ndarray, new_codes: np.ndarray, categories: pd.Index,
    spec: TableSpec,
) -> pd.DataFrame | None:  # fmt: skip
    """What the group-by merge gives, for a table in canonical order (sorted, one row per key) and a batch's table
    of integer keys and integer values: the batch's rows go in by binary search and combine with the rows of equal
    key element-wise, so a merge costs a pass over the table instead of grouping all of it again.  Integer sums,
    minima and maxima do not depend on the order they are taken in, so the result is the same to the last bit.

    None when the tables are not of that kind (another key or value dtype, an old table not in canonical order, a
    key space beyond 62 bits): the caller groups instead."""
    others = [key for key in spec.keys if key != "account_id"]
    if spec.keys[0] != "account_id" or not all(_is_int(old[c]) and _is_int(new[c]) for c in [*others, *spec.aggs]):
        return None
    old_key = old_codes.astype(np.int64)
    new_key = new_codes.astype(np.int64)
    bits = max(len(categories) - 1, 1).bit_length()
    for number, column in enumerate(others):
        old_values, new_values = old[column].to_numpy(np.int64), new[column].to_numpy(np.int64)
        low = min(int(old_values.min()), int(new_values.min()))
        span = max(int(old_values.max()), int(new_values.max())) - low + 1
        width = max(span - 1, 1).bit_length()
        if bits + width > _KEY_BITS:
            if number != len(others) - 1 or bits >= _KEY_BITS - 16:
                return None
            # a wide last key (a hash): its leading bits, which keep the order; two keys alike in those bits but
            # not in the rest are caught below, and then the caller groups
            width = _KEY_BITS - bits
            old_rank = (old_values.view(np.uint64) ^ _SIGN) >> np.uint64(64 - width)
            new_rank = (new_values.view(np.uint64) ^ _SIGN) >> np.uint64(64 - width)
            old_rank, new_rank = old_rank.astype(np.int64), new_rank.astype(np.int64)
        else:
            old_rank, new_rank = old_values - low, new_values - low
        bits += width
        old_key = (old_key << width) | old_rank
        new_key = (new_key << width) | new_rank
    if not (np.diff(old_key) > 0).all():
        return None  # not canonical (a first batch's table, in its own category order): group instead
    order = np.argsort(new_key, kind="stable")
    new_key = new_key[order]
    if not (np.diff(new_key) > 0).all():
        return None
    position = np.searchsorted(old_key, new_key)
    found = position < len(old_key)
    found[found] = old_key[position[found]] == new_key[found]
    rows = position[found]
    for column in others:  # equal leading bits of a hash must be equal hashes
        if not np.array_equal(old[column].to_numpy()[rows], new[column].to_numpy()[order][found]):
            return None
    fresh = np.flatnonzero(~found)
    size = len(old_key) + len(fresh)
    is_fresh = np.zeros(size, dtype=bool)
    is_fresh[position[fresh] + np.arange(len(fresh))] = True

    def spliced(old_values: np.ndarray, new_values: np.ndarray, combine: np.ufunc | None) -> np.ndarray:
        old_values = old_values.copy() if combine is not None else old_values
        if combine is not None:
            old_values[rows] = combine(old_values[rows], new_values[found])
        out = np.empty(size, dtype=old_values.dtype)
        out[~is_fresh] = old_values
        out[is_fresh] = new_values[fresh]
        return out

    data: dict[str, Any] = {
        "account_id": pd.Categorical.from_codes(spliced(old_codes, new_codes[order], None), categories=categories)
    }
    for name in others:
        data[name] = spliced(old[name].to_numpy(), new[name].to_numpy()[order], None)
    for name, how in spec.aggs.items():
        data[name] = spliced(old[name].to_numpy(), new[name].to_numpy()[order], _COMBINE[how])
    return pd.DataFrame(data)


def _is_int(values: pd.Series) -> bool:
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu"


def _with_positions(table: pd.DataFrame, index: pd.Index, accounts: _AccountUnion) -> pd.DataFrame:
    """The table plus ``account``: each row's account position in ``index`` (every id is in it); ``accounts``
    remembers the positions of categories looked up before."""
    if table.empty:
        return table.assign(account=pd.Series([], dtype=np.int64))
    position_of_category = accounts.positions(table["account_id"].cat.categories, index)
    return table.assign(account=position_of_category[table["account_id"].cat.codes.to_numpy()])


def _account_meta(accounts: pd.DataFrame | None) -> pd.DataFrame:
    """The account frame with every metadata column present (null where missing)."""
    if accounts is None:
        accounts = pd.DataFrame(index=pd.Index([], dtype="string", name="account_id"))
    frame = accounts.copy()
    if "account_id" in frame.columns:
        frame = frame.set_index("account_id")
    for column, dtype in ACCOUNT_COLUMNS.items():
        if column != "account_id" and column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    frame.index = frame.index.astype("string")
    return frame[~frame.index.duplicated(keep="last")]
