"""The supervised model: calibrated probabilities, occlusion reasons, held-out metrics."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from detectors.scoring.supervised import SupervisedRiskModel, evaluate


def labelled(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    y = pd.Series((rng.random(n) < 0.3).astype(int), index=[f"a{i}" for i in range(n)])
    X = pd.DataFrame(
        {
            "signal": y * 1.5 + rng.normal(0, 0.5, n),
            "noise": rng.normal(0, 1, n),
            "sparse": np.where(rng.random(n) < 0.3, np.nan, rng.normal(0, 1, n)),
        },
        index=y.index,
    )
    return X, y


def test_learns_a_separable_signal_with_probabilities() -> None:
    X, y = labelled()
    model = SupervisedRiskModel().fit(X.iloc[:200], y.iloc[:200])
    proba = model.predict_proba(X.iloc[200:])
    assert proba.between(0, 1).all()
    assert evaluate(y.iloc[200:], proba)["average_precision"] > 0.85


def test_explanations_point_at_the_signal() -> None:
    X, y = labelled()
    model = SupervisedRiskModel().fit(X, y)
    reasons = model.explain(X[y == 1].head(20))
    top = [items[0]["feature"] for items in reasons.values()]
    assert top.count("signal") >= 15
    for items in reasons.values():
        assert {"feature", "value", "contribution", "text"} == set(items[0])


def test_needs_both_classes() -> None:
    X, _ = labelled()
    with pytest.raises(ValueError, match="each class"):
        SupervisedRiskModel().fit(X, pd.Series(1, index=X.index))


def test_pickles_and_tolerates_missing_columns() -> None:
    X, y = labelled()
    model = pickle.loads(pickle.dumps(SupervisedRiskModel().fit(X, y)))
    proba = model.predict_proba(X.drop(columns=["noise"]))
    assert proba.notna().all()


def test_evaluate_recall_at_fpr() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.1, 0.85, 0.2, 0.1, 0.0])
    metrics = evaluate(y, scores, max_fpr=0.0)
    assert metrics["recall_at_fpr"] == pytest.approx(1 / 3)
    assert evaluate(y, scores, max_fpr=0.25)["recall_at_fpr"] == pytest.approx(2 / 3)
    assert np.isnan(evaluate([1, 1], [0.1, 0.2])["average_precision"])
