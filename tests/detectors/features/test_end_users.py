"""End-user features on hand-built events whose right values are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.events import RETENTION_MODES, Retention
from detectors.features import EndUserFeatures, FeatureState
from tests.detectors.features.factory import at, event, frame

COT = "Think step by step and show your reasoning before the final answer: what is the capital of France?"
CHAT = "hello there"


def features(events: list[dict[str, object]], retention: Retention = "full", **params: float) -> pd.DataFrame:
    data = frame(events, retention)
    return EndUserFeatures(**params).fit(data).transform(data)  # type: ignore[arg-type]


def reseller() -> list[dict[str, object]]:
    """One harvesting end user (40 requests, half step-by-step) among 20 light organic ones (5 chats each)."""
    events = [event("resell", at(seconds=i), COT if i % 2 else CHAT, end_user_id="harvester") for i in range(40)]
    events += [event("resell", at(hours=1, seconds=10 * u + i), CHAT, end_user_id=f"cust{u}")
               for u in range(20) for i in range(5)]
    return events


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_reasoning_concentrated_in_one_end_user(retention: Retention) -> None:
    out = features(reseller(), retention)
    assert out.loc["resell", "end_user_count"] == 21
    rate = 20 / 140  # the account's own, diluted rate
    assert out.loc["resell", "end_user_cot_excess"] == pytest.approx((20 - 40 * rate) / (40 + 50))
    assert out.loc["resell", "end_user_top_cot_rate"] == pytest.approx(0.5)
    assert out.loc["resell", "end_user_top_request_share"] == pytest.approx(40 / 140)


def test_uniform_reasoning_app_and_organic_app_show_no_excess() -> None:
    # a tutoring app whose system prompt asks every request for reasoning, and an app of plain chats
    tutor = [event("tutor", at(seconds=30 * u + i), COT, end_user_id=f"t{u}") for u in range(5) for i in range(30)]
    chat = [event("chat", at(seconds=30 * u + i), CHAT, end_user_id=f"c{u}") for u in range(5) for i in range(30)]
    out = features(tutor + chat)
    assert out.loc["tutor", "end_user_cot_excess"] == 0
    assert out.loc["tutor", "end_user_top_cot_rate"] == 1
    assert out.loc["chat", "end_user_cot_excess"] == 0
    assert out.loc["chat", "end_user_count"] == 5


def test_light_end_users_are_not_evidence_and_no_end_users_is_unknown() -> None:
    # every end user below min_requests: end users exist but none can stand out (0); no ids at all: unknown (NaN)
    light = [event("light", at(seconds=i), COT if i < 3 else CHAT, end_user_id=f"u{i % 10}") for i in range(100)]
    direct = [event("direct", at(seconds=i), COT) for i in range(50)]
    out = features(light + direct)
    assert out.loc["light", "end_user_cot_excess"] == 0
    assert out[["end_user_top_cot_rate"]].loc[["light"]].isna().all().all()
    assert out.loc["direct"].isna().all()


def test_shrinkage_and_min_requests_are_parameters() -> None:
    out = features(reseller(), pseudo_requests=0, min_requests=41)
    assert out.loc["resell", "end_user_cot_excess"] == 0  # the harvester has 40 requests: not eligible
    out = features(reseller(), pseudo_requests=0)
    assert out.loc["resell", "end_user_cot_excess"] == pytest.approx(0.5 - 20 / 140)
    with pytest.raises(ValueError):
        EndUserFeatures(min_requests=0).fit(frame(reseller()))


def test_batched_updates_equal_the_full_recompute() -> None:
    rng = np.random.default_rng(3)
    events = [event("resell", at(days=d, seconds=i), COT if rng.random() < 0.4 else CHAT,
                    end_user_id=f"u{rng.integers(0, 4)}") for d in range(3) for i in range(60)]
    events += [event("app", at(days=d, seconds=i), CHAT, end_user_id=f"v{i % 7}") for d in range(3) for i in range(30)]
    data = frame(events)
    full = EndUserFeatures().fit(data).transform(data)
    state = FeatureState.start(extractors=[EndUserFeatures().fit(data)])
    labels = rng.integers(0, 4, len(data))
    for part in range(4):
        state = state.update(data[labels == part])
    pd.testing.assert_frame_equal(state.features(), full)
    assert full.loc["resell", "end_user_count"] == 4
