"""The supervised model trained from analysts' verdicts, and how it is judged against the current one.

Labels come from reviews of clusters (confirmed → members positive, dismissed → negative).  The model is a
histogram gradient-boosting classifier (after median imputation with missingness indicators) wrapped in a
cross-validated sigmoid calibration, so its output is a probability that can stand in for the prior's risk at
the same thresholds.
Its inputs are the account features plus the label-free model's own outputs (:func:`model_inputs`), so it starts
from what the prior already knows and learns corrections from the team's decisions.  With fewer than
``few_labels`` labelled accounts it reads only the label-free model's own and cluster scores and the cluster's
size (:data:`FEW_LABEL_INPUTS`): a couple of dozen verdicts cannot say which of ~70 features matter, and a booster
offered all of them splits on whichever happens to separate the few labels it has; it learns a recalibration of
the prior's verdicts instead, and the features once labels are plenty.

Explanations are occlusion attributions: a feature's contribution is how much the probability drops when that
feature is replaced by its population median (computed for the model's most important features only, to keep
runs fast).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from detectors.scoring.model import Scores

MODEL_INPUT_SCORES = ("own_score", "prior_hazard", "intent", "anomaly_percentile", "cluster_score")
# what a model trained on few labels reads: the label-free model's verdicts, not the ingredients it deliberately
# gates (raw intent, the anomaly percentile), which a couple of dozen labels would take at face value
FEW_LABEL_INPUTS = ("own_score", "cluster_score", "cluster_size")
EXPLAINED_FEATURES = 12
# Label sets and scored batches are small: OpenMP threads cost more than they save, and on a busy host their
# spin-waiting makes a 30 ms prediction take seconds.
THREADS = 1


@contextmanager
def _quiet() -> Iterator[None]:
    """One OpenMP thread, and no warning for a feature that is missing in every row of a calibration fold (the
    imputer drops it for that fold, which is the intended behaviour)."""
    with threadpool_limits(limits=THREADS, user_api="openmp"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping features without any observed values")
        yield


def model_inputs(features: pd.DataFrame, scores: Scores) -> pd.DataFrame:
    """The supervised model's input matrix: features plus the prior's outputs and the cluster's size and score."""
    accounts = scores.accounts.reindex(features.index)
    extra = accounts[list(MODEL_INPUT_SCORES)].astype("float64")
    size = accounts["cluster_label"].map(scores.clusters["size"]).astype("float64").fillna(1.0)
    return pd.concat([features.astype("float64"), extra.assign(cluster_size=size)], axis=1)


class SupervisedRiskModel(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 5,
        cv: int = 3,
        random_state: int = 0,
        few_labels: int = 30,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.cv = cv
        self.random_state = random_state
        self.few_labels = few_labels

    def fit(self, X: pd.DataFrame, y: pd.Series | npt.ArrayLike) -> Self:
        labels = np.asarray(y, dtype=np.int64)
        if len(labels) != len(X):
            raise ValueError("X and y have different lengths")
        counts = np.bincount(labels, minlength=2)
        if counts.size != 2 or counts.min() < 2:
            raise ValueError(f"need at least 2 labels of each class, got {counts.tolist()}")
        prior_outputs = [c for c in FEW_LABEL_INPUTS if c in X.columns]
        if len(labels) < self.few_labels and prior_outputs:
            X = X[prior_outputs]
        self.columns_ = list(X.columns)
        matrix = X.to_numpy(dtype="float64", na_value=np.nan)
        # pandas' median skips NaN without numpy's all-NaN warning (a feature can be absent for every label)
        self.medians_ = np.nan_to_num(X.astype("float64").median(axis=0).to_numpy(dtype="float64"), nan=0.0)
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=min(self.min_samples_leaf, max(1, int(counts.min()) // 2)),
            random_state=self.random_state,
        )  # fmt: skip
        folds = int(min(self.cv, counts.min()))
        # Median imputation with missingness indicators instead of the booster's native NaN handling: a sparse
        # feature can be entirely missing inside one calibration fold, which the booster's binning rejects.
        pipeline = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), booster)
        with _quiet():
            self.model_ = CalibratedClassifierCV(pipeline, method="sigmoid", cv=folds).fit(matrix, labels)
            self.importance_ = self._importance(matrix)
        self.n_labels_ = len(labels)
        self.n_positive_ = int(counts[1])
        return self

    def _matrix(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        return X.reindex(columns=self.columns_).to_numpy(dtype="float64", na_value=np.nan)

    def predict_proba(self, X: pd.DataFrame) -> pd.Series:
        if len(X) == 0:
            return pd.Series([], index=X.index, dtype="float64")
        with _quiet():
            proba = self.model_.predict_proba(self._matrix(X))[:, 1]
        return pd.Series(proba, index=X.index, dtype="float64")

    def _importance(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Mean absolute occlusion effect per column on the training rows (a cheap, model-agnostic importance)."""
        base = self.model_.predict_proba(matrix)[:, 1]
        effects = np.zeros(matrix.shape[1])
        for column in range(matrix.shape[1]):
            occluded = matrix.copy()
            occluded[:, column] = self.medians_[column]
            effects[column] = float(np.mean(np.abs(base - self.model_.predict_proba(occluded)[:, 1])))
        return effects

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per account, the probability lost when each of the most important features is set to its median."""
        matrix = self._matrix(X)
        top = np.argsort(-self.importance_)[:EXPLAINED_FEATURES]
        out = {}
        with _quiet():
            base = self.model_.predict_proba(matrix)[:, 1] if len(matrix) else np.zeros(0)
            for column in top:
                occluded = matrix.copy()
                occluded[:, column] = self.medians_[column]
                effect = base - self.model_.predict_proba(occluded)[:, 1] if len(matrix) else np.zeros(0)
                out[self.columns_[column]] = effect
        return pd.DataFrame(out, index=X.index, dtype="float64")

    def explain(self, X: pd.DataFrame, *, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
        proba = self.predict_proba(X)
        effects = self.contributions(X)
        names = [str(c) for c in effects.columns]
        matrix = effects.to_numpy(dtype="float64")
        values = X.reindex(columns=names).to_numpy(dtype="float64", na_value=np.nan)
        probabilities = proba.to_numpy(dtype="float64")
        out: dict[str, list[dict[str, Any]]] = {}
        for row, account_id in enumerate(effects.index.astype(str)):
            reasons = []
            for column in np.argsort(-matrix[row], kind="stable")[:limit]:
                effect = float(matrix[row, column])
                if effect <= 0.005:
                    break
                value = float(values[row, column])
                shown = None if np.isnan(value) else round(value, 4)
                text = (f"{names[column]} = {shown} raises the supervised model's probability by {effect:.2f} "
                        f"against a typical value")  # fmt: skip
                reasons.append({"feature": names[column], "value": shown, "contribution": round(effect, 4),
                                "text": text})  # fmt: skip
            if not reasons:
                p = round(float(probabilities[row]), 4)
                reasons.append({"feature": "risk_score", "value": p, "contribution": p,
                                "text": "no single feature moves the supervised model's probability much"})
            out[account_id] = reasons
        return out


def evaluate(y_true: npt.ArrayLike, scores: npt.ArrayLike, *, max_fpr: float = 0.001) -> dict[str, float]:
    """Average precision, ROC AUC and recall at the largest threshold keeping the false-positive rate <= max_fpr."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.nan_to_num(np.asarray(scores, dtype="float64"), nan=0.0)
    if y.size == 0 or y.min() == y.max():
        return {"n": float(y.size), "average_precision": float("nan"), "roc_auc": float("nan"),
                "recall_at_fpr": float("nan")}  # fmt: skip
    negatives = np.sort(s[y == 0])[::-1]
    allowed = int(np.floor(max_fpr * negatives.size))
    threshold = negatives[allowed] if allowed < negatives.size else -np.inf
    return {
        "n": float(y.size),
        "average_precision": float(average_precision_score(y, s)),
        "roc_auc": float(roc_auc_score(y, s)),
        "recall_at_fpr": float(np.mean(s[y == 1] > threshold)),
    }
