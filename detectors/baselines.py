"""Three baselines every detector change is measured against, computed from the same event frame.

* **request volume** — requests per account: what a rate-limit-based policy sees.
* **PRADA** (Juuti et al., 2019) — per account, the minimum distance between each new query
  and all of that account's earlier queries; benign query streams give roughly normal
  distances, systematic extraction does not.  Risk is ``1 - W`` of the Shapiro-Wilk test.
  Queries are hashed bags of ``token_hashes`` (L2-normalised), so the baseline works the same
  in the ``full`` and ``hashed`` retention modes and yields NaN in ``none``.
* **IP sharing** — the largest number of accounts seen on any one of the account's IPs.

Each is an :class:`~detectors.base.AccountDetector` (one float column, higher = riskier,
indexed by ``account_id``) with its textbook decision rule in :func:`baseline_flags`.
They are deliberately not registered as pipeline detectors: they are yardsticks.
"""

from __future__ import annotations

import warnings
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from detectors.base import AccountDetector, prepare_events

FloatArray = npt.NDArray[np.float64]


class _Baseline(AccountDetector):
    column: str = ""

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        prepare_events(events)
        self.n_features_out_ = 1
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, np.dtype[np.object_]]:
        return np.asarray([self.column], dtype=object)

    def transform(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> pd.DataFrame:
        frame = prepare_events(events)
        index = pd.Index(sorted(frame["account_id"].astype(str).unique()), name="account_id", dtype="object")
        values = self._scores(frame).reindex(index).astype("float64")
        return pd.DataFrame({self.column: values}, index=index)

    def _scores(self, frame: pd.DataFrame) -> pd.Series:
        raise NotImplementedError


class VolumeBaseline(_Baseline):
    """Requests per account."""

    column = "request_count"

    def _scores(self, frame: pd.DataFrame) -> pd.Series:
        return frame.groupby(frame["account_id"].astype(str)).size().astype("float64")


class IpSharingBaseline(_Baseline):
    """Max over the account's IPs of the number of distinct accounts that used that IP."""

    column = "ip_max_accounts_sharing"

    def _scores(self, frame: pd.DataFrame) -> pd.Series:
        pairs = frame.loc[frame["ip"].notna(), ["account_id", "ip"]].astype(str).drop_duplicates()
        sharing = pairs.groupby("ip")["account_id"].transform("size")
        return sharing.groupby(pairs["account_id"]).max().astype("float64")


class PradaBaseline(_Baseline):
    """PRADA: Shapiro-Wilk normality of each account's successive minimum query distances."""

    column = "prada_risk"

    def __init__(self, n_features: int = 256, min_queries: int = 20, max_queries: int = 1000) -> None:
        self.n_features = n_features
        self.min_queries = min_queries
        self.max_queries = max_queries

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        if self.n_features < 1 or self.min_queries < 4 or self.max_queries < self.min_queries:
            raise ValueError("need n_features >= 1 and 4 <= min_queries <= max_queries")
        return super().fit(events, accounts)

    def _scores(self, frame: pd.DataFrame) -> pd.Series:
        usable = frame.loc[frame["token_hashes"].notna(), ["account_id", "ts", "request_id", "token_hashes"]]
        # a deterministic query order that does not depend on the input's row order
        usable = usable.sort_values(["account_id", "ts", "request_id"], kind="stable")
        risks: dict[str, float] = {}
        for account_id, group in usable.groupby(usable["account_id"].astype(str), sort=True):
            hashes = group["token_hashes"].astype(str).tolist()[-self.max_queries :]
            if len(hashes) < self.min_queries:
                continue
            distances = successive_min_distances(hashed_vectors(hashes, self.n_features))
            risks[str(account_id)] = 1.0 - shapiro_w(distances)
        return pd.Series(risks, dtype="float64")


def hashed_vectors(token_hashes: list[str], n_features: int) -> FloatArray:
    """Space-separated hex token hashes → L2-normalised bag-of-tokens rows (empty query → zero row)."""
    matrix = np.zeros((len(token_hashes), n_features), dtype=np.float64)
    for row, text in enumerate(token_hashes):
        for token in text.split():
            matrix[row, int(token, 16) % n_features] += 1.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = np.zeros_like(matrix)
    np.divide(matrix, norms, out=unit, where=norms > 0)
    return unit


def successive_min_distances(vectors: FloatArray) -> FloatArray:
    """For each query after the first, its L2 distance to the nearest earlier query."""
    n = len(vectors)
    if n < 2:
        return np.empty(0)
    squared = np.sum(vectors * vectors, axis=1)
    gram = vectors @ vectors.T
    dist2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * gram, 0.0)
    dist2[np.triu_indices(n)] = np.inf  # only earlier queries count
    return np.asarray(np.sqrt(dist2[1:].min(axis=1)), dtype=np.float64)


def shapiro_w(distances: FloatArray) -> float:
    """Shapiro-Wilk W; 1.0 (nothing to flag) for fewer than 3 values or a constant sample."""
    values = np.asarray(distances, dtype=np.float64)
    if len(values) < 3 or np.ptp(values) == 0.0:
        return 1.0
    with warnings.catch_warnings():  # scipy warns about p-value accuracy for n > 5000; W is still exact
        warnings.simplefilter("ignore", UserWarning)
        return float(stats.shapiro(values).statistic)


BASELINES: dict[str, type[_Baseline]] = {
    "volume": VolumeBaseline,
    "prada": PradaBaseline,
    "ip_sharing": IpSharingBaseline,
}

#: PRADA's detection threshold on W (the paper tunes δ per setting, 0.87-0.96 for its attacks)
PRADA_DELTA = 0.90
#: accounts on one IP before IP sharing calls it suspicious
IP_SHARING_MIN_ACCOUNTS = 5
#: robust z-score of log(volume) above which volume calls an account an outlier
VOLUME_ROBUST_Z = 3.0


def baseline_scores(events: pd.DataFrame) -> pd.DataFrame:
    """All three baselines on one event frame: columns volume, prada, ip_sharing (higher = riskier)."""
    columns = {name: cls().fit_transform(events).iloc[:, 0] for name, cls in BASELINES.items()}
    return pd.DataFrame(columns)


def baseline_flags(name: str, scores: pd.Series) -> pd.Series:
    """Each baseline's own textbook decision rule (no labels involved)."""
    if name == "volume":
        logs = np.log1p(scores.astype("float64"))
        mad = float(np.nanmedian(np.abs(logs - np.nanmedian(logs)))) * 1.4826
        flags: pd.Series = (logs - np.nanmedian(logs)) > VOLUME_ROBUST_Z * max(mad, 1e-9)
        return flags
    if name == "prada":
        flags = scores.astype("float64") > 1.0 - PRADA_DELTA
        return flags
    if name == "ip_sharing":
        flags = scores.astype("float64") >= IP_SHARING_MIN_ACCOUNTS
        return flags
    raise KeyError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}")
