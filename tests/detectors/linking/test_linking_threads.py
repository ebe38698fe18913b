"""Linking's kinds of evidence computed on two threads give the very result of computing them one by one, a kind
that fails on its thread fails the call, and :class:`Cores` bounds how many of linking's tasks compute at once."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from app.simulation import SimulationConfig, simulate
from detectors.events import account_frame, to_event_frame
from detectors.linking import LinkingConfig, graph, link_accounts
from detectors.linking.cores import Cores, on_core


@pytest.fixture(scope="module")
def window() -> tuple[pd.DataFrame, pd.DataFrame]:
    population = simulate(SimulationConfig(seed=9, scale=0.15, days=3))
    return to_event_frame(population.events), account_frame(population.accounts)


def test_two_threads_link_exactly_as_one(window: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, accounts = window
    one = link_accounts(events, accounts, config=LinkingConfig(threads=1))
    assert one.stats["multi_account_clusters"] >= 3, "the population should hold campaigns to link"
    # two threads on two cores, and two threads that get their second core while linking runs (as the worker does)
    lent = Cores(1)
    threading.Timer(0.2, lent.lend).start()
    for other in (link_accounts(events, accounts, config=LinkingConfig(threads=2)),
                  link_accounts(events, accounts, config=LinkingConfig(threads=2), cores=lent)):  # fmt: skip
        pd.testing.assert_frame_equal(one.edges, other.edges, check_exact=True)
        pd.testing.assert_frame_equal(one.clusters, other.clusters)
        pd.testing.assert_frame_equal(one.cluster_features, other.cluster_features, check_exact=True)
        assert one.evidence == other.evidence


@pytest.mark.parametrize("lend", [False, True])
def test_cores_bound_the_tasks_that_compute_at_once(lend: bool) -> None:
    cores = Cores(1)
    running, most = 0, 0
    guard = threading.Lock()
    two_at_once = threading.Event()

    def task() -> None:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
            if running >= 2:
                two_at_once.set()
        # stay on the core until a second task runs beside it (it should, once lent), or a while
        two_at_once.wait(timeout=5.0 if lend else 0.2)
        with guard:
            running -= 1

    if lend:
        cores.lend()
    threads = [threading.Thread(target=on_core(cores, task)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == (2 if lend else 1)


def test_a_kind_failing_on_its_thread_fails_linking(
    window: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> pd.DataFrame:
        raise RuntimeError("subnet kind failed")

    monkeypatch.setattr(graph, "subnet_pairs", explode)
    events, accounts = window
    with pytest.raises(RuntimeError, match="subnet kind failed"):
        link_accounts(events, accounts, config=LinkingConfig(threads=2))
