"""Linking's per-event encodings: computed in parts they equal those of the whole, and linking from kept
encodings (as a worker keeps them between runs) gives the very result of linking from scratch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.simulation import SimulationConfig, simulate
from detectors.events import account_frame, to_event_frame
from detectors.linking import Linking, LinkingConfig, encoding, link_accounts
from detectors.linking.encoding import EventCodes, encode_events

FIELDS = ("row_hash", "has_tokens", "signature", "opening", "has_opening", "closing", "has_closing", "system",
          "has_system")  # fmt: skip


@pytest.fixture(scope="module")
def window() -> tuple[pd.DataFrame, pd.DataFrame]:
    population = simulate(SimulationConfig(seed=5, scale=0.15, days=3))
    events = to_event_frame(population.events).sort_values("ts", kind="stable").reset_index(drop=True)
    return events, account_frame(population.accounts)


def assert_same_codes(left: EventCodes, right: EventCodes) -> None:
    """Row for row the same; ``left`` may know the subnets of more addresses (a trimmed window keeps them)."""
    assert left.key == right.key
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name), err_msg=name)
    assert right.subnets.index.isin(left.subnets.index).all()
    pd.testing.assert_series_equal(left.subnets.reindex(right.subnets.index), right.subnets, check_names=False)


def test_encodings_made_in_parts_equal_the_encodings_of_the_whole(window: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, _ = window
    config = LinkingConfig()
    whole = encode_events(events, config)
    assert whole.has_tokens.mean() > 0.5 and whole.has_opening.any() and whole.has_system.any()
    assert whole.subnets.notna().sum() > 10
    cut = len(events) * 2 // 3
    first = encode_events(events.iloc[:cut], config)
    second = encode_events(events.iloc[cut:], config, known_subnets=first.subnets)
    assert_same_codes(EventCodes.concat([first, second]), whole)
    keep = np.arange(len(events)) % 3 != 0
    assert_same_codes(whole.take(keep), encode_events(events[keep], config))
    with pytest.raises(ValueError, match="different linking settings"):
        EventCodes.concat([first, encode_events(events.iloc[cut:], LinkingConfig(wrapper_tokens=4))])


def assert_same_linking(kept: Linking, fresh: Linking) -> None:
    for name in ("clusters", "edges", "cluster_features"):
        pd.testing.assert_frame_equal(getattr(kept, name), getattr(fresh, name), check_exact=True)
    assert kept.evidence == fresh.evidence


def test_linking_from_kept_encodings_equals_linking_from_scratch(
    window: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, accounts = window
    config = LinkingConfig()
    # a worker's window: encodings of the old events and of the new ones, joined, then trimmed at the start
    cut = len(events) * 9 // 10
    codes = EventCodes.concat([encode_events(events.iloc[:cut], config), encode_events(events.iloc[cut:], config)])
    keep = events["ts"] >= events["ts"].iloc[len(events) // 20]
    trimmed, trimmed_codes = events[keep].reset_index(drop=True), codes.take(keep.to_numpy())
    fresh = link_accounts(trimmed, accounts, config=config)
    holes = trimmed.copy()
    holes.loc[holes.index[::50], "account_id"] = pd.NA
    fresh_with_holes = link_accounts(holes, accounts, config=config)
    assert (fresh.cluster_features["size"] >= 2).sum() >= 3 and fresh.stats["edges"] > 0

    def no_encoding(*args: object, **kwargs: object) -> EventCodes:
        raise AssertionError("the kept encodings were not used")

    monkeypatch.setattr(encoding, "encode_events", no_encoding)
    assert_same_linking(link_accounts(trimmed, accounts, config=config, codes=trimmed_codes), fresh)
    # rows linking skips (no account) are skipped in the encodings too
    assert_same_linking(link_accounts(holes, accounts, config=config, codes=trimmed_codes), fresh_with_holes)


def test_encodings_made_under_other_settings_are_not_used(window: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, accounts = window
    other = LinkingConfig(minhash_permutations=8, minhash_bands=2)
    stale = encode_events(events, other)
    fresh = link_accounts(events, accounts)
    assert_same_linking(link_accounts(events, accounts, codes=stale), fresh)
    assert_same_linking(link_accounts(events, accounts, codes=stale.take(np.arange(10))), fresh)  # wrong length
