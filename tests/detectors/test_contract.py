"""The contract every registered account detector keeps (River's test_estimators, for our detectors)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from detectors.base import AccountDetector
from detectors.events import RETENTION_MODES, empty_event_frame
from detectors.registry import create, registered
from tests.detectors.features.factory import accounts, at, event, frame, population

NAMES = sorted(registered())


@pytest.fixture(scope="module", params=RETENTION_MODES)
def data(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    events, account_meta = population(seed=3)
    return frame(events, request.param), account_meta


def run(detector: AccountDetector, events: pd.DataFrame, account_meta: pd.DataFrame | None) -> pd.DataFrame:
    return clone(detector).fit(events, account_meta).transform(events, account_meta)


def test_builtin_feature_families_are_registered() -> None:
    assert {"features.behaviour", "features.coverage", "features.infrastructure"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_index_and_dtypes(name: str, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, account_meta = data
    detector = create(name)
    out = run(detector, events, account_meta)
    assert out.index.name == "account_id"
    assert list(out.index) == sorted(events["account_id"].unique())
    assert list(out.columns) == list(detector.get_feature_names_out())
    assert all(dtype == np.float64 for dtype in out.dtypes)
    assert not np.isinf(out.to_numpy()).any()


@pytest.mark.parametrize("name", NAMES)
def test_full_retention_gives_values(name: str) -> None:
    events, account_meta = population(seed=4)
    out = run(create(name), frame(events, "full"), account_meta)
    assert out.notna().any().mean() >= 0.5  # most features are computable on an ordinary population


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_row_order_independent(name: str, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, account_meta = data
    detector = create(name)
    first = run(detector, events, account_meta)
    again = run(detector, events, account_meta)
    shuffled = events.sample(frac=1.0, random_state=11).reset_index(drop=True)
    reordered = run(detector, shuffled, account_meta.sample(frac=1.0, random_state=5))
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, reordered, check_exact=False, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_pickled_fitted_detector_gives_the_same_output(name: str, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, account_meta = data
    fitted = clone(create(name)).fit(events, account_meta)
    restored = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(fitted.transform(events, account_meta), restored.transform(events, account_meta))


@pytest.mark.parametrize("name", NAMES)
def test_empty_input_gives_an_empty_frame_with_the_columns(name: str) -> None:
    detector = create(name)
    out = run(detector, empty_event_frame(), None)
    assert out.empty
    assert list(out.columns) == list(detector.get_feature_names_out())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_single_event(name: str, retention: str) -> None:
    one = frame([event("solo", at(0), "Explain step by step how tides work")], retention)  # type: ignore[arg-type]
    out = run(create(name), one, None)
    assert list(out.index) == ["solo"]
    assert not np.isinf(out.to_numpy()).any()


@pytest.mark.parametrize("name", NAMES)
def test_only_required_fields(name: str) -> None:
    """Events with nothing but request_id, account_id and ts, and a frame lacking the optional columns."""
    bare = pd.DataFrame({"request_id": ["a", "b", "c"], "account_id": ["x", "x", "y"],
                         "ts": pd.to_datetime([at(0), at(60), at(5)], utc=True)})
    out = run(create(name), bare, accounts({"account_id": "x"}))
    assert list(out.index) == ["x", "y"]
    assert not np.isinf(out.to_numpy()).any()


@pytest.mark.parametrize("name", NAMES)
def test_transform_before_fit_is_refused(name: str) -> None:
    events, _ = population(seed=1, n_benign=2, n_campaign=1)
    with pytest.raises(NotFittedError):
        create(name).transform(frame(events), None)
