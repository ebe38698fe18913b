"""Incremental updates give exactly the full recompute, whatever the batching or order."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from detectors.events import RETENTION_MODES, Retention
from detectors.features import FeatureState, compute_features, feature_names, fit_extractors
from detectors.features.topics import TopicModel
from tests.detectors.features.factory import at, event, frame, population


def split(events: pd.DataFrame, parts: int, seed: int) -> list[pd.DataFrame]:
    """Random (not time-ordered) batches: late-arriving events included."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, parts, len(events))
    return [events[labels == p] for p in range(parts)]


@pytest.fixture(scope="module")
def topic_model() -> TopicModel:
    events, _ = population(seed=8)
    return TopicModel(n_topics=6, random_state=0).fit(frame(events))


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_batched_updates_equal_the_full_recompute(retention: Retention, topic_model: TopicModel) -> None:
    events, meta = population(seed=2)
    all_events = frame(events, retention)
    full = compute_features(all_events, meta, topic_model=topic_model)
    extractors = fit_extractors(all_events.iloc[:0], meta, topic_model=topic_model)
    state = FeatureState.start(extractors=extractors)
    for batch in split(all_events, 4, seed=1):
        state = state.update(batch)
    pd.testing.assert_frame_equal(state.features(meta), full)
    assert list(full.columns) == feature_names()


def test_window_applies_to_incremental_state_like_to_full(topic_model: TopicModel) -> None:
    events, meta = population(seed=5)
    all_events = frame(events)
    full = compute_features(all_events, meta, topic_model=topic_model, window_days=1)
    state = FeatureState.start(extractors=fit_extractors(all_events.iloc[:0], topic_model=topic_model))
    for batch in split(all_events, 3, seed=4):
        state = state.update(batch)
    pd.testing.assert_frame_equal(state.features(meta, window_days=1), full)
    pd.testing.assert_frame_equal(state.evict(keep_days=1).features(meta), full)


def test_window_keeps_only_recent_days() -> None:
    events = [event("old", at(days=0)), event("new", at(days=5)), event("both", at(days=0)),
              event("both", at(days=5)), event("both", at(days=5, seconds=30))]
    out = compute_features(frame(events), window_days=2)
    assert list(out.index) == ["both", "new"]
    assert out.loc["both", "request_count"] == 2


def test_update_does_not_change_the_old_state_and_state_pickles(topic_model: TopicModel) -> None:
    events, meta = population(seed=6)
    all_events = frame(events)
    first, second = split(all_events, 2, seed=0)
    start = FeatureState.start(extractors=fit_extractors(all_events.iloc[:0], topic_model=topic_model))
    after_first = start.update(first)
    before = after_first.features(meta)
    after_second = after_first.update(second)
    pd.testing.assert_frame_equal(after_first.features(meta), before)
    restored = pickle.loads(pickle.dumps(after_second))
    pd.testing.assert_frame_equal(restored.features(meta), after_second.features(meta))
    assert restored.n_events == len(all_events)


def test_empty_update_is_a_no_op(topic_model: TopicModel) -> None:
    events, _ = population(seed=6)
    state = FeatureState.start(extractors=fit_extractors(frame(events).iloc[:0], topic_model=topic_model))
    state = state.update(frame(events))
    assert state.update(frame([])) is state


def test_unfitted_extractors_are_refused() -> None:
    from detectors.features import BehaviourFeatures

    with pytest.raises(NotFittedError):
        FeatureState.start(extractors=[BehaviourFeatures()])


def test_a_frame_in_the_event_dtypes_is_taken_as_it_is_whatever_else_it_carries() -> None:
    """The service's window carries ``event_id`` beside the event columns: the state takes the event columns as they
    are instead of converting each (what a frame in other dtypes gets), with the same result."""
    from detectors.base import prepare_events
    from detectors.events import EVENT_COLUMNS, coerce_event_frame

    events = frame([event("a", at(1)), event("b", at(2), prompt=None), event("a", at(3), ip="10.0.0.1")])
    with_id = events.assign(event_id=np.arange(len(events), dtype=np.int64))
    taken = prepare_events(with_id)
    assert list(taken.columns) == list(EVENT_COLUMNS)
    pd.testing.assert_frame_equal(taken, coerce_event_frame(events))
    assert np.shares_memory(taken["ts"].array.asi8, with_id["ts"].array.asi8), "converted instead of taken"
    as_objects = with_id.astype({"account_id": object})
    pd.testing.assert_frame_equal(prepare_events(as_objects), taken)


def test_own_features_reused_for_unchanged_accounts_equal_computing_them_again(topic_model: TopicModel) -> None:
    """An incremental run takes the successive distances, inter-arrival figures and repeat shares of the accounts
    without new events from the last run's features: the same values, to the last bit, as computing them again."""
    from detectors.features.behaviour import TIMING_FEATURES, BehaviourFeatures
    from detectors.features.coverage import DISTANCE_FEATURES, REPEAT_FEATURES, CoverageFeatures
    from detectors.features.state import Reuse

    own = sorted(BehaviourFeatures.own_features | CoverageFeatures.own_features)
    assert {*TIMING_FEATURES, *DISTANCE_FEATURES, *REPEAT_FEATURES, "repeated_prompt_share"} <= set(own)
    events, meta = population(seed=3)
    all_events = frame(events)
    accounts = sorted(all_events["account_id"].unique())
    rng = np.random.default_rng(0)
    later = (all_events["account_id"].isin(accounts[::3]) & (rng.random(len(all_events)) < 0.5)).to_numpy()
    first, second = all_events[~later], all_events[later]
    state = FeatureState.start(extractors=fit_extractors(all_events.iloc[:0], meta, topic_model=topic_model))
    state = state.update(first)
    before = state.features(meta)
    state = state.update(second)
    changed = frozenset(second["account_id"])
    fresh = state.features(meta)
    assert fresh[own].notna().any().all() and 0 < len(changed) < len(fresh)
    pd.testing.assert_frame_equal(state.features(meta, reuse=Reuse(before, changed)), fresh, check_exact=True)

    # and they are taken, not recomputed: marked earlier values come back for the unchanged accounts only
    marked = before.copy()
    marked[own] = 0.125
    reused = state.features(meta, reuse=Reuse(marked, changed))
    unchanged = [account for account in fresh.index if account not in changed and account in before.index]
    assert (reused.loc[unchanged, own] == 0.125).all().all()
    pd.testing.assert_frame_equal(reused.loc[sorted(changed), own], fresh.loc[sorted(changed), own])
    pd.testing.assert_frame_equal(reused.drop(columns=own), fresh.drop(columns=own))


def test_own_features_of_accounts_all_unchanged_are_all_taken(topic_model: TopicModel) -> None:
    from detectors.features.state import Reuse

    events, meta = population(seed=4)
    state = FeatureState.start(extractors=fit_extractors(frame(events).iloc[:0], meta, topic_model=topic_model))
    state = state.update(frame(events))
    before = state.features(meta)
    pd.testing.assert_frame_equal(state.features(meta, reuse=Reuse(before, frozenset())), before, check_exact=True)
