"""Linking's kinds of evidence computed on two threads give the very result of computing them one by one, and a
kind that fails on its thread fails the call."""

from __future__ import annotations

import pandas as pd
import pytest

from app.simulation import SimulationConfig, simulate
from detectors.events import account_frame, to_event_frame
from detectors.linking import LinkingConfig, graph, link_accounts


@pytest.fixture(scope="module")
def window() -> tuple[pd.DataFrame, pd.DataFrame]:
    population = simulate(SimulationConfig(seed=9, scale=0.15, days=3))
    return to_event_frame(population.events), account_frame(population.accounts)


def test_two_threads_link_exactly_as_one(window: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, accounts = window
    one = link_accounts(events, accounts, config=LinkingConfig(threads=1))
    two = link_accounts(events, accounts, config=LinkingConfig(threads=2))
    assert one.stats["multi_account_clusters"] >= 3, "the population should hold campaigns to link"
    pd.testing.assert_frame_equal(one.edges, two.edges, check_exact=True)
    pd.testing.assert_frame_equal(one.clusters, two.clusters)
    pd.testing.assert_frame_equal(one.cluster_features, two.cluster_features, check_exact=True)
    assert one.evidence == two.evidence


def test_a_kind_failing_on_its_thread_fails_linking(
    window: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> pd.DataFrame:
        raise RuntimeError("subnet kind failed")

    monkeypatch.setattr(graph, "subnet_pairs", explode)
    events, accounts = window
    with pytest.raises(RuntimeError, match="subnet kind failed"):
        link_accounts(events, accounts, config=LinkingConfig(threads=2))
