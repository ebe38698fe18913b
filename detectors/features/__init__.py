"""Per-account features: behaviour, query-distribution coverage, infrastructure, end users.

Entry points (pure: pandas in, float DataFrame indexed by ``account_id`` out):

* :func:`compute_features` — everything from one event frame (a full recompute);
* :class:`FeatureState` — the same, incrementally::

      extractors = fit_extractors(history, accounts, ip_intel=intel)   # fits the topic model
      state = FeatureState.start(extractors=extractors).update(history)
      ...
      state = state.update(new_events)            # each event once
      features = state.features(accounts, window_days=14)

  ``state.features(...)`` equals ``compute_features(all_events, ..., topic_model=<the same model>)``
  (``tests/detectors/features/test_state.py``).  States pickle; ``state.evict(keep_days=...)``
  drops days that left the window for good.

Extending: a family subclasses :class:`detectors.base.FeatureExtractor` (``table_specs``,
``partial(batch)`` → mergeable tables, ``finalize``) and registers in :mod:`detectors.registry`,
which puts it under the shared contract test.

Column names say what they measure; see each family's ``feature_names``:
:class:`BehaviourFeatures`, :class:`CoverageFeatures`, :class:`InfrastructureFeatures`,
:class:`EndUserFeatures`.
"""

from __future__ import annotations

import pandas as pd

from detectors.base import FeatureExtractor, prepare_events
from detectors.features.behaviour import BehaviourFeatures
from detectors.features.coverage import CoverageFeatures
from detectors.features.end_users import EndUserFeatures
from detectors.features.infrastructure import InfrastructureFeatures
from detectors.features.state import FeatureState
from detectors.features.topics import TopicModel
from detectors.ipintel import IPIntel

__all__ = [
    "BehaviourFeatures",
    "CoverageFeatures",
    "EndUserFeatures",
    "FeatureState",
    "InfrastructureFeatures",
    "TopicModel",
    "compute_features",
    "feature_names",
    "fit_extractors",
]


def fit_extractors(
    events: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    *,
    ip_intel: IPIntel | None = None,
    topic_model: TopicModel | None = None,
) -> list[FeatureExtractor]:
    """The feature families, fitted on ``events`` (a fitted ``topic_model`` is reused as is)."""
    frame = prepare_events(events)
    return [
        BehaviourFeatures().fit(frame, accounts),
        CoverageFeatures(topic_model=topic_model).fit(frame, accounts),
        InfrastructureFeatures(ip_intel=ip_intel).fit(frame, accounts),
        EndUserFeatures().fit(frame, accounts),
    ]


def compute_features(
    events: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    *,
    ip_intel: IPIntel | None = None,
    window_days: float | None = None,
    topic_model: TopicModel | None = None,
) -> pd.DataFrame:
    """All features for every account with events (in the window), index ``account_id``, float columns.

    "Now" is the newest event's timestamp; ``window_days=w`` keeps whole UTC days from the
    day of ``now - w`` on (see :mod:`detectors.features.state`).  Without ``topic_model`` one
    is fitted on ``events`` (a fitted one is reused as is); without ``ip_intel`` network
    kinds are unknown and the features that need them are NaN.
    """
    frame = prepare_events(events)
    extractors = fit_extractors(frame, accounts, ip_intel=ip_intel, topic_model=topic_model)
    return FeatureState.start(extractors=extractors).update(frame).features(accounts, window_days=window_days)


def feature_names() -> list[str]:
    """Every column :func:`compute_features` returns, in order."""
    return [*BehaviourFeatures.feature_names, *CoverageFeatures.feature_names, *InfrastructureFeatures.feature_names,
            *EndUserFeatures.feature_names]
