"""Population-relative anomaly: how isolated an account's feature vector is among everyone else's.

An IsolationForest over robust z-scores of every feature (NaN → the population median, clipped to ±8 so one
extreme feature cannot dominate the split structure).  The raw isolation score becomes a percentile within the
population, and only the top ``1 - start_percentile`` contribute: unusual is common in a population of millions,
so the anomaly term is a nudge (``weight`` hazard at most), never a verdict.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from detectors.scoring.prior import robust_center_scale

Z_CLIP = 8.0


class AnomalyModel(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self, n_estimators: int = 100, start_percentile: float = 0.95, weight: float = 0.2, random_state: int = 0
    ) -> None:
        self.n_estimators = n_estimators
        self.start_percentile = start_percentile
        self.weight = weight
        self.random_state = random_state

    def fit(self, features: pd.DataFrame, y: Any = None) -> Self:
        if not 0.0 <= self.start_percentile < 1.0:
            raise ValueError("start_percentile must be in [0, 1)")
        ordered = features.sort_index()
        self.columns_ = [c for c in ordered.columns if ordered[c].notna().any()]
        self.center_ = {}
        self.scale_ = {}
        for column in self.columns_:
            values = ordered[column].to_numpy(dtype="float64", na_value=np.nan)
            center, scale = robust_center_scale(values, 1e-9)
            if scale <= 1e-9:  # a constant-ish feature: fall back to its standard deviation, or ignore it
                std = float(np.nanstd(values))
                scale = std if std > 0 else 1.0
            self.center_[column], self.scale_[column] = center, scale
        self.forest_: IsolationForest | None = None
        self.reference_ = np.zeros(0)
        if len(ordered) >= 8 and self.columns_:
            matrix = self._matrix(ordered)
            self.forest_ = IsolationForest(
                n_estimators=self.n_estimators, max_samples=min(256, len(ordered)), random_state=self.random_state
            ).fit(matrix)
            raw = -self.forest_.score_samples(matrix)
            self.reference_ = np.sort(raw)
            self.fitted_raw_ = pd.Series(raw, index=ordered.index)
        return self

    def _matrix(self, features: pd.DataFrame) -> npt.NDArray[np.float64]:
        columns = []
        for column in self.columns_:
            values = features[column].to_numpy(dtype="float64", na_value=np.nan) if column in features \
                else np.full(len(features), np.nan)  # fmt: skip
            z = (values - self.center_[column]) / self.scale_[column]
            columns.append(np.clip(np.nan_to_num(z, nan=0.0), -Z_CLIP, Z_CLIP))
        return np.column_stack(columns) if columns else np.zeros((len(features), 0))

    def percentile(self, features: pd.DataFrame, *, fitted: bool = False) -> pd.Series:
        """Share of the fitted population less isolated than each account, in [0, 1].

        ``fitted``: ``features`` are the accounts the model was fitted on, with the same values: their isolation
        is taken from the fit instead of walking every tree again (scoring an account does not depend on the others
        scored with it, so it is the same)."""
        if self.forest_ is None or len(features) == 0:
            return pd.Series(0.0, index=features.index, dtype="float64")
        if fitted:
            raw = self.fitted_raw_.reindex(features.index).to_numpy(dtype=np.float64)
            if np.isnan(raw).any():
                raise ValueError("percentile(fitted=True) of accounts the model was not fitted on")
        else:
            raw = -self.forest_.score_samples(self._matrix(features))
        rank = np.searchsorted(self.reference_, raw, side="right") / len(self.reference_)
        return pd.Series(rank, index=features.index, dtype="float64")

    def hazard(self, features: pd.DataFrame, percentile: pd.Series | None = None) -> pd.Series:
        """The anomaly's hazard; ``percentile``: :meth:`percentile` of ``features``, when the caller has it."""
        pct = self.percentile(features) if percentile is None else percentile
        strength = ((pct - self.start_percentile) / (1.0 - self.start_percentile)).clip(0.0, 1.0)
        return (self.weight * strength).astype("float64")
