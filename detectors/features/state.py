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

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from detectors.base import Batch, FeatureExtractor, TableSpec
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
        merged = {
            name: _merge(self.tables.get(name), new_tables.get(name), specs[name]) for name in specs
        }
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
    ) -> pd.DataFrame:
        """Features per account with events in the window: index account_id (sorted), float columns."""
        clock = _Clock(timings)
        account_meta = _account_meta(accounts)
        tables = self._windowed(window_days) if window_days is not None else dict(self.tables)
        activity = tables.get(_ACTIVITY)
        ids = [] if activity is None or activity.empty else sorted(activity["account_id"].unique().tolist())
        index = pd.Index(ids, dtype="string", name="account_id")
        positioned = {name: _with_positions(table, index) for name, table in tables.items()}
        aligned = account_meta.reindex(index).reset_index(drop=True)
        parts = []
        for extractor in self.extractors:
            part = extractor.finalize(positioned, aligned, now_ns=self.now_ns, n_accounts=len(index))
            parts.append(part.reindex(pd.RangeIndex(len(index))))
            clock.lap(f"{type(extractor).__name__} finalize")
        if not parts:
            return pd.DataFrame(index=index)
        out = pd.concat(parts, axis=1).astype("float64")
        out.index = index
        return out

    def _windowed(self, window_days: float | None) -> dict[str, pd.DataFrame]:
        if window_days is None or self.now_ns is None:
            return dict(self.tables)
        if window_days <= 0:
            raise ValueError("window_days must be positive")
        cutoff_day = (self.now_ns - int(window_days * DAY_NS)) // DAY_NS
        return {name: _from_day(table, cutoff_day) for name, table in self.tables.items()}


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


def _merge(old: pd.DataFrame | None, new: pd.DataFrame | None, spec: TableSpec) -> pd.DataFrame:
    frames = [f for f in (old, new) if f is not None and not f.empty]
    if not frames:
        return new if new is not None else (old if old is not None else pd.DataFrame())
    if len(frames) == 1:
        return frames[0]
    categories = pd.Index(sorted(set().union(*(f["account_id"].cat.categories for f in frames))), dtype=object)
    codes = [categories.get_indexer(f["account_id"].cat.categories.astype(object))[f["account_id"].cat.codes]
             for f in frames]
    combined = pd.concat([f.drop(columns="account_id") for f in frames], ignore_index=True)
    combined.insert(0, "account_id", pd.Series(pd.Categorical.from_codes(np.concatenate(codes), categories=categories)))
    if not spec.keys:
        return combined
    # sorted keys make the merged table identical whatever order its rows arrived in
    return combined.groupby(list(spec.keys), sort=True, observed=True).agg(spec.aggs).reset_index()


def _with_positions(table: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """The table plus ``account``: each row's account position in ``index`` (every id is in it)."""
    if table.empty:
        return table.assign(account=pd.Series([], dtype=np.int64))
    categories = table["account_id"].cat.categories
    position_of_category = index.get_indexer(categories.astype("object"))
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
