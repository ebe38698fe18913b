"""What every account-level detector looks like.

A detector follows scikit-learn's estimator contract (``__init__`` only stores its
arguments, ``fit`` validates and learns state ending in ``_``, returns ``self``) and maps
an event frame (:data:`detectors.events.EVENT_COLUMNS`) plus an account frame
(:func:`detectors.events.account_frame`) to a float DataFrame indexed by ``account_id``
with one row per account that has events and the columns of ``get_feature_names_out()``.
NaN means "not computable for this account" (too few events, field absent, retention
mode dropped the text), never "zero".

Feature extractors additionally split their work into a per-batch *map* step
(:meth:`FeatureExtractor.partial`, a :class:`Batch` → mergeable tables) and a *finalize*
step (merged tables → features), which is what makes incremental updates equal to a full
recompute: see :mod:`detectors.features.state`.  In tables ``account_id`` is a
Categorical (sorted categories), so merging and grouping work on integer codes; at
finalize time every table also carries ``account``, the row position of its account in
the output (0..n-1), and the account frame arrives aligned to those positions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from detectors.events import EVENT_COLUMNS, coerce_event_frame

Aggregation = Literal["sum", "min", "max"]
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class TableSpec:
    """A mergeable partial-aggregate table: rows with equal ``keys`` combine by ``aggs``.

    ``keys`` empty means an append-only sequence table (rows are concatenated).  Every
    table carries an integer ``day`` column (days since the epoch, UTC) so that a time
    window can be applied after merging.
    """

    keys: tuple[str, ...]
    aggs: dict[str, Aggregation]


class AccountDetector(BaseEstimator, ABC):  # type: ignore[misc]
    """Events (+ accounts) in, one float row per account out."""

    @abstractmethod
    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self: ...

    @abstractmethod
    def transform(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> pd.DataFrame: ...

    @abstractmethod
    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, np.dtype[np.object_]]: ...

    def fit_transform(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.fit(events, accounts).transform(events, accounts)


class FeatureExtractor(AccountDetector):
    """A family of features computed as map (``partial``) → merge → ``finalize``."""

    #: output columns, in order; subclasses set it
    feature_names: tuple[str, ...] = ()

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        check_events(events)
        self.n_features_out_ = len(self.feature_names)
        return self

    @abstractmethod
    def table_specs(self) -> dict[str, TableSpec]:
        """The tables :meth:`partial` emits, by name (names are global: prefix them with the family)."""

    @abstractmethod
    def partial(self, batch: Batch) -> dict[str, pd.DataFrame]:
        """Per-batch partial aggregates (tables named in :meth:`table_specs`)."""

    #: features computed from each account's own rows alone (no population statistic, no clock): an earlier
    #: finalisation's value stands for an account whose rows have not changed since (:class:`Kept`)
    own_features: frozenset[str] = frozenset()

    @abstractmethod
    def finalize(self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None,
                 n_accounts: int, kept: Kept | None = None) -> pd.DataFrame:
        """Merged, window-filtered tables → features indexed by account position 0..n_accounts-1.

        ``accounts`` is the account frame reindexed to those positions (all columns present).  ``kept``: earlier
        values the extractor may take for its :attr:`own_features` instead of computing them (see :class:`Kept`).
        """

    def transform(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> pd.DataFrame:
        from detectors.features.state import FeatureState  # the state module imports this one

        check_is_fitted(self, "n_features_out_")
        return FeatureState.start(extractors=[self]).update(events).features(accounts)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, np.dtype[np.object_]]:
        return np.asarray(self.feature_names, dtype=object)


@dataclass(frozen=True)
class Kept:
    """An earlier finalisation's features for the accounts whose rows have not changed since: ``mask`` marks those
    account positions, ``values`` holds the earlier features at the same positions (other rows: anything)."""

    mask: npt.NDArray[np.bool_]
    values: pd.DataFrame

    def fill(self, computed: pd.DataFrame) -> pd.DataFrame:
        """``computed`` (a row per position) with the kept positions' earlier values in its columns."""
        out = computed.copy()
        rows = np.flatnonzero(self.mask)
        for column in computed.columns:
            values = out[column].to_numpy(dtype=np.float64, copy=True)
            values[rows] = self.values[column].to_numpy(dtype=np.float64)[rows]
            out[column] = values
        return out


def check_events(events: pd.DataFrame) -> None:
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"expected an event DataFrame, got {type(events).__name__}")
    for column in ("account_id", "ts"):
        if column not in events.columns:
            raise ValueError(f"event frame lacks the required column {column!r}")


def prepare_events(events: pd.DataFrame) -> pd.DataFrame:
    """Any frame with at least account_id and ts → the full event frame (missing optional columns null)."""
    check_events(events)
    # a frame already in the event dtypes is taken as it is (other columns, such as the service's event_id, left
    # out): converting a million rows column by column costs seconds for nothing
    if all(c in events.columns and str(events[c].dtype) == dtype for c, dtype in EVENT_COLUMNS.items()):
        frame = events[list(EVENT_COLUMNS)].reset_index(drop=True)
    else:
        frame = coerce_event_frame(events.reset_index(drop=True))
    return frame[frame["account_id"].notna() & frame["ts"].notna()].reset_index(drop=True)


def empty_features(n_accounts: int, names: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(np.nan, index=pd.RangeIndex(n_accounts), columns=list(names), dtype="float64")


class Batch:
    """One update's events plus the arrays every extractor needs, each computed once.

    ``account`` holds codes into ``account_ids`` (sorted), so extractors group by integers
    and turn codes into a Categorical ``account_id`` column only for their (small) output.
    """

    def __init__(self, events: pd.DataFrame) -> None:
        self.events = prepare_events(events)
        self.ts: npt.NDArray[np.int64] = np.asarray(self.events["ts"].array.asi8, dtype=np.int64)
        self.day: npt.NDArray[np.int64] = self.ts // DAY_NS
        codes, uniques = pd.factorize(self.events["account_id"].to_numpy(dtype=object), sort=True)
        self.account: npt.NDArray[np.int64] = codes.astype(np.int64)
        self.account_ids = pd.Index(uniques, dtype="object")
        self._cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.ts)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def account_column(self, codes: npt.NDArray[np.int64]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=self.account_ids)

    def table(self, keys: dict[str, Any], values: dict[str, Any], aggs: dict[str, Aggregation]) -> pd.DataFrame:
        """Group rows by ``keys`` (``account_id`` given as codes) and aggregate ``values``; sorted by key."""
        frame = pd.DataFrame({**keys, **values}, copy=False)
        out = frame if frame.empty else frame.groupby(list(keys), sort=True).agg(aggs).reset_index()
        out["account_id"] = self.account_column(out["account_id"].to_numpy(dtype=np.int64))
        return out

    def rows(self, columns: dict[str, Any]) -> pd.DataFrame:
        """An append-only (sequence) table: one row per given event, ``account_id`` given as codes."""
        frame = pd.DataFrame(columns, copy=False)
        frame["account_id"] = self.account_column(frame["account_id"].to_numpy(dtype=np.int64))
        return frame
