"""Metrics against values computed by hand (and, on random data, against scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from app.evaluation import metrics as m

# five accounts, ranked 0.9 > 0.8 > 0.7 > 0.6 > 0.5; campaign members at ranks 1, 3, 4
LABELS = [True, False, True, True, False]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]


def test_average_precision_on_five_accounts() -> None:
    # precision at each member: 1/1, 2/3, 3/4; each adds a third of recall
    assert m.average_precision(LABELS, SCORES) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)  # 29/36


def test_roc_auc_on_five_accounts() -> None:
    # member/non-member pairs won: 0.9 beats both, 0.7 and 0.6 beat only 0.5 → 4 of 6
    assert m.roc_auc(LABELS, SCORES) == pytest.approx(4 / 6)


def test_ties_form_one_threshold() -> None:
    assert m.roc_auc([True, False, False], [1.0, 1.0, 0.0]) == pytest.approx(0.75)  # tie counts half
    assert m.average_precision([True, False, False], [1.0, 1.0, 0.0]) == pytest.approx(0.5)


def test_unscored_accounts_rank_last() -> None:
    assert m.roc_auc([True, False], [np.nan, 0.1]) == 0.0
    assert m.roc_auc([True, False, False], [0.2, np.nan, np.nan]) == 1.0
    assert m.roc_auc([True, True], [0.1, 0.2]) != m.roc_auc([True, True], [0.1, 0.2])  # one class: NaN


def test_recall_at_fpr_is_the_best_recall_within_the_budget() -> None:
    positives = [0.95, 0.9, 0.5, 0.2]
    negatives = [0.92, 0.8, 0.7, 0.6, 0.4, 0.3, 0.1, 0.05, 0.02, 0.01]
    labels = [True] * 4 + [False] * 10
    scores = positives + negatives
    assert m.recall_at_fpr(labels, scores, 0.0) == 0.25  # only 0.95 before the first negative
    assert m.recall_at_fpr(labels, scores, 0.1) == 0.5  # one negative (0.92) buys 0.9
    assert m.recall_at_fpr(labels, scores, 0.39) == 0.5  # three negatives do not reach 0.5
    assert m.recall_at_fpr(labels, scores, 0.4) == 0.75
    assert m.recall_at_fpr(labels, scores, 1.0) == 1.0


def test_curves_start_strict_and_end_at_everything() -> None:
    recall, precision = m.pr_curve(LABELS, SCORES)
    np.testing.assert_allclose(recall, [1 / 3, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    fpr, tpr = m.roc_curve(LABELS, SCORES)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1 / 3, 2 / 3, 1, 1])


def test_agrees_with_scikit_learn_on_random_scores_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.1
    scores = np.round(rng.random(500) + labels * 0.3, 1)  # coarse → many ties
    assert m.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    assert m.average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores))


def test_flagged_quality_by_hand() -> None:
    quality = m.flagged_quality(LABELS, [True, True, False, True, False])
    assert (quality.n_flagged, quality.true_positives) == (3, 2)
    assert quality.precision == pytest.approx(2 / 3) and quality.recall == pytest.approx(2 / 3)
    assert quality.f1 == pytest.approx(2 / 3)
    nothing = m.flagged_quality(LABELS, [False] * 5)
    assert nothing.precision is None and nothing.recall == 0.0 and nothing.f1 is None


def test_campaign_recall_and_detection() -> None:
    campaign_of = {"a1": "c1", "a2": "c1", "a3": "c1", "a4": "c2", "a5": "c2", "b1": None}
    recalls = m.campaign_recall(campaign_of, {"a1", "a2", "a4", "b1"})
    assert recalls == pytest.approx({"c1": 2 / 3, "c2": 1 / 2})
    assert m.campaigns_detected(recalls) == ["c1", "c2"]
    assert m.campaigns_detected(recalls, 0.6) == ["c1"]


def test_cluster_purity_and_completeness_by_hand() -> None:
    campaign_of = {"a1": "c1", "a2": "c1", "a3": "c1", "a4": "c2", "a5": None, "a6": None}
    clusters = {"a1": "k1", "a2": "k1", "a5": "k1", "a3": "k2", "a4": "k3", "a6": "k4"}
    quality = m.cluster_quality(campaign_of, clusters, flagged={"a1", "a3", "a6"})
    # flagged clusters k1 {c1, c1, benign}, k2 {c1}, k4 {benign}; k3 has no flagged member
    assert quality.n_flagged_clusters == 3
    assert quality.purity == pytest.approx((2 + 1 + 0) / 5)
    assert quality.completeness == pytest.approx({"c1": 2 / 3, "c2": 0.0})
    assert quality.mean_completeness == pytest.approx(1 / 3)
    empty = m.cluster_quality(campaign_of, {}, flagged=set())
    assert empty.purity is None and empty.n_flagged_clusters == 0
