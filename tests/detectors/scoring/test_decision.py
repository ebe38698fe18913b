"""Decisions: thresholds, review outcomes (confirmed stays flagged, dismissed exempts), benign clusters, reopening."""

from __future__ import annotations

import pandas as pd
import pytest

from detectors.scoring.decision import Thresholds, flag_accounts, flag_clusters, reopened


def test_threshold_validation() -> None:
    with pytest.raises(ValueError):
        Thresholds(account=0.0)
    with pytest.raises(ValueError):
        Thresholds(cluster=1.5)


def test_clusters_flag_by_score_unless_benign_or_dismissed_and_always_when_confirmed() -> None:
    scores = pd.Series({"hi": 0.9, "benign": 0.95, "dismissed": 0.99, "confirmed": 0.1, "low": 0.2})
    flagged = flag_clusters(
        scores,
        thresholds=Thresholds(cluster=0.7),
        benign=pd.Series({"benign": True}),
        status={"dismissed": "dismissed", "confirmed": "confirmed", "hi": "open"},
    )
    assert flagged.to_dict() == {"hi": True, "benign": False, "dismissed": False, "confirmed": True, "low": False}


def test_accounts_flag_by_own_score_or_flagged_cluster() -> None:
    own = pd.Series({"a": 0.85, "b": 0.1, "c": 0.1, "d": 0.9})
    clusters = pd.Series({"a": None, "b": "c1", "c": "c2", "d": "c2"})
    cluster_flagged = pd.Series({"c1": True, "c2": False})
    decisions = flag_accounts(own, thresholds=Thresholds(0.8), cluster_of=clusters, cluster_flagged=cluster_flagged)
    assert decisions["flagged"].to_dict() == {"a": True, "b": True, "c": False, "d": True}
    assert decisions["flag_source"].to_dict() == {"a": "score", "b": "cluster", "c": "", "d": "score"}


@pytest.mark.parametrize(
    ("status", "decided", "size", "expected"),
    [
        ("confirmed", 8, 10, True),  # +25% and +2
        ("confirmed", 8, 9, False),  # +1 only
        ("dismissed", 20, 24, False),  # +4 but only +20%
        ("dismissed", 20, 25, True),
        ("open", 8, 30, False),  # not decided
        ("escalated", 8, 30, False),
        ("confirmed", None, 12, True),  # falls back to last run's size (8)
    ],
)
def test_decided_clusters_reopen_when_they_grow_materially(
    status: str, decided: int | None, size: int, expected: bool
) -> None:
    members = [f"m{i}" for i in range(size)]
    previous = [f"m{i}" for i in range(8)]
    assert reopened(status, decided, members, previous) is expected
